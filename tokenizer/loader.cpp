// tokenizer/loader.cpp: tokenizer.json / tokenizer_config.json -> TokenizerImpl. Every component type that
// is not implemented fails here with its name, so a tokenizer either loads exactly or not at all; ids are
// checked (range, one string per id, no huge gap) before anything is allocated by id.
// Not here: encoding and decoding.
#include <atomic>
#include <climits>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace zerorl::tokenizer {
namespace {

std::atomic<uint64_t> next_uid{1};

// Holes (ids no token has) are allowed, but id_to_token and friends are indexed by id: the largest id + 1
// may be at most 2 x (distinct ids) + kIdSlack, so a bad id cannot make loading allocate gigabytes.
constexpr int64_t kIdSlack = 1 << 16;

// An id from tokenizer.json as int32, or an error naming the file and the token.
int32_t token_id(const Json& v, const std::string& token, const char* what, const std::string& origin) {
  ZRL_CHECK(v.is_number_integer(), "{}: {} '{}' has id {}, not an integer", origin, what, token,
            dump_excerpt(v));
  ZRL_CHECK(v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(INT32_MAX),
            "{}: {} '{}' has id {}; ids must be in [0, 2^31)", origin, what, token, dump_excerpt(v));
  return static_cast<int32_t>(v.get<uint64_t>());
}

// Every id of model.vocab and added_tokens before anything is allocated by id: integers in [0, 2^31), one
// string per id (an added token may repeat its own vocab entry, as HF files do), and no gap far beyond the
// number of tokens (kIdSlack).
void check_ids(const Json& spec, const std::string& origin) {
  const Json& vocab = spec.at("model").at("vocab");
  ZRL_CHECK(vocab.is_object(), "{}: model.vocab must be an object of token -> id", origin);
  std::unordered_map<int32_t, const std::string*> owner;
  owner.reserve(vocab.size());
  int32_t max_id = -1;
  std::string max_token;
  auto claim = [&](const std::string& token, int32_t id, const char* what) {
    const auto [it, fresh] = owner.emplace(id, &token);
    ZRL_CHECK(fresh || *it->second == token,
              "{}: {} '{}' has id {}, which '{}' already has (one string per id)", origin, what, token, id,
              *it->second);
    if (id > max_id) max_id = id, max_token = token;
  };
  for (const auto& [token, id] : vocab.items())
    claim(token, token_id(id, token, "model.vocab token", origin), "model.vocab token");
  const Json added = spec.value("added_tokens", Json::array());
  ZRL_CHECK(added.is_array(), "{}: added_tokens must be a list", origin);
  for (const auto& a : added) {
    const std::string& content = a.at("content").get_ref<const std::string&>();
    claim(content, token_id(a.at("id"), content, "added token", origin), "added token");
  }
  const int64_t limit = 2 * static_cast<int64_t>(owner.size()) + kIdSlack;
  ZRL_CHECK(max_id < limit,
            "{}: token '{}' has id {}, but the file has {} tokens: ids this sparse would need a table of {} "
            "entries (at most {} allowed)",
            origin, max_token, max_id, owner.size(), static_cast<int64_t>(max_id) + 1, limit);
}

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
    for (const auto& v : spec.at("special_tokens").at(name).at("ids")) {
      const int32_t id = token_id(v, name, "post_processor special token", origin);
      ZRL_CHECK(static_cast<size_t>(id) < t.id_to_token.size() && !t.id_to_token[id].empty(),
                "{}: post_processor special token '{}' has id {}, which is no token of this file", origin,
                name, id);
      (after ? t.suffix_ids : t.prefix_ids).push_back(id);
    }
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

void load_config(TokenizerImpl& t, const std::string& config_text, const std::string& origin) {
  if (config_text.empty()) return;
  const Json config = parse_json(config_text, origin + ": tokenizer_config.json");
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
  const Json spec = parse_json(json_text, origin);
  try {
    ZRL_CHECK(spec.value("truncation", Json()).is_null(), "{}: truncation is not supported", origin);
    ZRL_CHECK(spec.value("padding", Json()).is_null(), "{}: padding is not supported", origin);
    t->normalizer = Normalizer(spec.value("normalizer", Json()));
    t->pre_tokenizer = PreTokenizer(spec.value("pre_tokenizer", Json()));
    ZRL_CHECK(t->pre_tokenizer.has_byte_level(),
              "{}: pre_tokenizer has no ByteLevel step; only byte-level BPE "
              "is supported",
              origin);
    check_ids(spec, origin);
    load_model(*t, spec.at("model"), origin);
    load_added(*t, spec.value("added_tokens", Json::array()));
    load_post_processor(*t, spec.value("post_processor", Json()), origin);
    load_decoder(*t, spec.value("decoder", Json()), origin);
    load_config(*t, config_text, origin);
  } catch (const Json::exception& e) {
    ZRL_FAIL("{}: unexpected structure: {}", origin, e.what());
  }
  t->json_text = json_text;
  t->config_text = config_text;
  return t;
}

}  // namespace zerorl::tokenizer
