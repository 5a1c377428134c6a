// tokenizer/loader.cpp: tokenizer.json / tokenizer_config.json -> TokenizerImpl. Every component type that
// is not implemented fails here with its name, so a tokenizer either loads exactly or not at all.
// Not here: encoding and decoding.
#include <atomic>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace zerorl::tokenizer {
namespace {

std::atomic<uint64_t> next_uid{1};

std::vector<std::pair<std::string, std::string>> parse_merges(const Json& merges, const std::string& origin) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const auto& m : merges) {
    if (m.is_array()) {
      ZRL_CHECK(m.size() == 2, "{}: model.merges entry {} is not a pair", origin, m.dump());
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      const std::string& s = m.get_ref<const std::string&>();
      size_t space = s.find(' ');
      ZRL_CHECK(space != std::string::npos && s.find(' ', space + 1) == std::string::npos,
                "{}: model.merges entry '{}' is not 'left right'", origin, s);
      out.emplace_back(s.substr(0, space), s.substr(space + 1));
    }
  }
  return out;
}

void load_model(TokenizerImpl& t, const Json& model, const std::string& origin) {
  std::string type = model.value("type", "BPE");
  ZRL_CHECK(type == "BPE", "{}: model type '{}' is not supported (only BPE)", origin, type);
  ZRL_CHECK(model.value("dropout", Json()).is_null(), "{}: BPE dropout is not supported", origin);
  ZRL_CHECK(!model.value("byte_fallback", false), "{}: BPE byte_fallback is not supported", origin);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    Json v = model.value(key, Json());
    ZRL_CHECK(v.is_null() || v.get<std::string>().empty(), "{}: BPE {} '{}' is not supported", origin, key,
              v.dump());
  }
  std::unordered_map<std::string, int32_t> vocab;
  for (const auto& [token, id] : model.at("vocab").items()) vocab.emplace(token, id.get<int32_t>());
  int32_t unk_id = -1;
  Json unk = model.value("unk_token", Json());
  if (!unk.is_null()) {
    auto it = vocab.find(unk.get<std::string>());
    ZRL_CHECK(it != vocab.end(), "{}: BPE unk_token '{}' is not in the vocab", origin,
              unk.get<std::string>());
    unk_id = it->second;
  }
  t.bpe =
      std::make_unique<BpeModel>(vocab, parse_merges(model.at("merges"), origin),
                                 model.value("ignore_merges", false), unk_id, model.value("fuse_unk", false));
  for (const auto& [token, id] : vocab) {
    if (static_cast<size_t>(id) >= t.id_to_token.size()) t.id_to_token.resize(id + 1);
    t.id_to_token[id] = token;
    t.token_to_id[token] = id;
  }
}

void load_added(TokenizerImpl& t, const Json& added) {
  std::vector<AddedToken> tokens;
  std::vector<std::string> normalized;
  for (const auto& a : added) {
    AddedToken tok;
    tok.content = a.at("content").get<std::string>();
    tok.id = a.at("id").get<int32_t>();
    tok.special = a.value("special", false);
    tok.lstrip = a.value("lstrip", false);
    tok.rstrip = a.value("rstrip", false);
    tok.single_word = a.value("single_word", false);
    tok.normalized = a.value("normalized", !tok.special);
    normalized.push_back(t.normalizer.apply(tok.content));
    if (static_cast<size_t>(tok.id) >= t.id_to_token.size()) t.id_to_token.resize(tok.id + 1);
    t.id_to_token[tok.id] = tok.content;
    t.token_to_id[tok.content] = tok.id;
    tokens.push_back(tok);
  }
  t.special.assign(t.id_to_token.size(), 0);
  for (const auto& tok : tokens)
    if (tok.special) t.special[tok.id] = 1;
  t.added = AddedVocabulary(std::move(tokens), normalized);
}

// post_processor: ByteLevel only touches offsets; TemplateProcessing adds its "single" special tokens,
// Roberta/BertProcessing cls and sep; any other type is refused by name.
void load_post_processor(TokenizerImpl& t, const Json& spec, const std::string& origin) {
  if (spec.is_null()) return;
  std::string type = spec.value("type", "");
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    for (const auto& sub : spec.at("processors")) load_post_processor(t, sub, origin);
    return;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {  // single: cls $A sep, as [token, id] pairs
    t.prefix_ids.push_back(spec.at("cls").at(1).get<int32_t>());
    t.suffix_ids.push_back(spec.at("sep").at(1).get<int32_t>());
    return;
  }
  ZRL_CHECK(type == "TemplateProcessing", "{}: post_processor type '{}' is not supported", origin, type);
  bool after = false;
  for (const auto& piece : spec.at("single")) {
    if (piece.contains("Sequence")) {
      after = true;
      continue;
    }
    const std::string& name = piece.at("SpecialToken").at("id").get_ref<const std::string&>();
    for (const auto& id : spec.at("special_tokens").at(name).at("ids"))
      (after ? t.suffix_ids : t.prefix_ids).push_back(id.get<int32_t>());
  }
}

void load_decoder(TokenizerImpl& t, const Json& spec, const std::string& origin) {
  std::string type = spec.is_null() ? "" : spec.value("type", "");
  ZRL_CHECK(spec.is_null() || type == "ByteLevel", "{}: decoder type '{}' is not supported (only ByteLevel)",
            origin, type);
  t.join_with_space = spec.is_null();
  t.id_bytes.resize(t.id_to_token.size());
  std::string bytes;
  for (size_t id = 0; id < t.id_to_token.size(); ++id) {
    const std::string& token = t.id_to_token[id];
    // HF ByteLevel decoder: a token whose every char is in the byte table becomes those bytes, any
    // other token contributes its own UTF-8.
    t.id_bytes[id] = (!t.join_with_space && byte_level_to_bytes(token, bytes)) ? bytes : token;
  }
}

std::optional<int32_t> special_id(const TokenizerImpl& t, const Json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return std::nullopt;
  const Json& v = config[key];
  std::string content = v.is_string() ? v.get<std::string>() : v.at("content").get<std::string>();
  auto it = t.token_to_id.find(content);
  if (it == t.token_to_id.end()) {  // transformers would add it as a new token; we leave it unset
    ZRL_WARN("tokenizer_config.json: {} '{}' is not a token of tokenizer.json; {} left unset", key, content,
             key);
    return std::nullopt;
  }
  return it->second;
}

void load_config(TokenizerImpl& t, const std::string& config_text) {
  if (config_text.empty()) return;
  Json config = Json::parse(config_text);
  t.bos = special_id(t, config, "bos_token");
  t.eos = special_id(t, config, "eos_token");
  t.pad = special_id(t, config, "pad_token");
  t.add_bos_token = config.value("add_bos_token", false);
  if (config.contains("chat_template")) {
    const Json& ct = config["chat_template"];
    if (ct.is_string()) {
      t.chat_template = ct.get<std::string>();
    } else if (ct.is_array()) {
      for (const auto& entry : ct)
        if (entry.value("name", "") == "default") t.chat_template = entry.value("template", "");
    }
  }
}

}  // namespace

std::shared_ptr<TokenizerImpl> load_tokenizer(const std::string& json_text, const std::string& config_text,
                                              const std::string& origin) {
  auto t = std::make_shared<TokenizerImpl>();
  t->uid = next_uid++;
  Json spec;
  try {
    spec = Json::parse(json_text);
  } catch (const Json::exception& e) {
    ZRL_FAIL("{}: not valid JSON: {}", origin, e.what());
  }
  try {
    ZRL_CHECK(spec.value("truncation", Json()).is_null(), "{}: truncation is not supported", origin);
    ZRL_CHECK(spec.value("padding", Json()).is_null(), "{}: padding is not supported", origin);
    t->normalizer = Normalizer(spec.value("normalizer", Json()));
    t->pre_tokenizer = PreTokenizer(spec.value("pre_tokenizer", Json()));
    ZRL_CHECK(t->pre_tokenizer.has_byte_level(),
              "{}: pre_tokenizer has no ByteLevel step; only byte-level BPE "
              "is supported",
              origin);
    load_model(*t, spec.at("model"), origin);
    load_added(*t, spec.value("added_tokens", Json::array()));
    load_post_processor(*t, spec.value("post_processor", Json()), origin);
    load_decoder(*t, spec.value("decoder", Json()), origin);
    load_config(*t, config_text);
  } catch (const Json::exception& e) {
    ZRL_FAIL("{}: unexpected structure: {}", origin, e.what());
  }
  t->json_text = json_text;
  t->config_text = config_text;
  return t;
}

}  // namespace zerorl::tokenizer
