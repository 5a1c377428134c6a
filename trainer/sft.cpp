// trainer/sft.cpp: SFT data (rows -> templated, tokenized samples), packing, labels and the masked loss.
// Not here: the packed attention (model/decoder.cpp), the training loop (sft_run.cpp).
#include "trainer/sft.h"

#include <cmath>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "trainer/components.h"

namespace zerorl::trainer {
namespace {

// (prompt, response) of one row; throws naming where and the key.
std::pair<std::string, std::string> prompt_response(const SftSection& s, const Json& row,
                                                    const std::string& where) {
  ZRL_CHECK(row.is_object(), "{}: each line must be a JSON object", where);
  if (row.contains(s.messages_key)) {
    const Json& m = row[s.messages_key];
    ZRL_CHECK(m.is_array() && m.size() == 2 && m[0].value("role", "") == "user" &&
                  m[1].value("role", "") == "assistant" && m[0].contains("content") &&
                  m[0]["content"].is_string() && m[1].contains("content") && m[1]["content"].is_string(),
              "{}: \"{}\" must be [{{role: user, content}}, {{role: assistant, content}}] (one turn)", where,
              s.messages_key);
    return {m[0]["content"].get<std::string>(), m[1]["content"].get<std::string>()};
  }
  for (const std::string& key : {s.prompt_key, s.response_key})
    ZRL_CHECK(row.contains(key) && row[key].is_string(), "{}: no string key \"{}\" (or \"{}\")", where, key,
              s.messages_key);
  return {row[s.prompt_key].get<std::string>(), row[s.response_key].get<std::string>()};
}

}  // namespace

std::vector<SftSample> load_sft_samples(const Config& cfg, const tokenizer::Tokenizer& tok) {
  const SftSection& s = cfg.sft;
  ZRL_CHECK(!s.train_path.empty(), "sft.train_path is empty: name a JSONL file of {{\"{}\", \"{}\"}} lines",
            s.prompt_key, s.response_key);
  ZRL_CHECK(tok.eos_id().has_value(), "sft: the tokenizer has no eos_token: answers could not end");
  std::vector<SftSample> out;
  int64_t line = 0, dropped = 0;
  for (const Json& row : read_jsonl(s.train_path)) {
    if (s.max_samples > 0 && static_cast<int64_t>(out.size()) == s.max_samples) break;
    ++line;
    const auto [prompt, response] = prompt_response(s, row, s.train_path + ":" + std::to_string(line));
    Row r;
    r.prompt = prompt;
    SftSample sample;
    sample.ids = encode_prompt(cfg, tok, r);
    sample.prompt_len = static_cast<int64_t>(sample.ids.size());
    for (int32_t id : tok.encode(response, /*add_special_tokens=*/false)) sample.ids.push_back(id);
    sample.ids.push_back(*tok.eos_id());
    if (static_cast<int64_t>(sample.ids.size()) > s.seq_len) {
      ++dropped;
      continue;
    }
    out.push_back(std::move(sample));
  }
  if (dropped > 0)
    ZRL_WARN("sft: dropped {} of {} samples of {} longer than sft.seq_len = {}", dropped, line, s.train_path,
             s.seq_len);
  ZRL_CHECK(!out.empty(), "sft: {} has no sample of at most sft.seq_len = {} tokens", s.train_path,
            s.seq_len);
  if (s.max_samples > 0)
    ZRL_INFO("sft: the first {} samples of {} (sft.max_samples = {})", out.size(), s.train_path,
             s.max_samples);
  return out;
}

std::vector<std::vector<size_t>> pack_samples(const std::vector<SftSample>& samples, int64_t seq_len,
                                              bool pack) {
  std::vector<std::vector<size_t>> rows;
  int64_t used = seq_len + 1;  // forces a new row first
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto n = static_cast<int64_t>(samples[i].ids.size());
    ZRL_CHECK(n <= seq_len, "pack_samples: sample {} has {} tokens > seq_len {}", i, n, seq_len);
    if (!pack || used + n > seq_len) rows.emplace_back(), used = 0;
    rows.back().push_back(i);
    used += n;
  }
  return rows;
}

SftBatch make_sft_batch(const std::vector<SftSample>& samples, const std::vector<std::vector<size_t>>& rows,
                        int64_t pad_id) {
  int64_t T = 1;
  for (const auto& r : rows) {
    int64_t n = 0;
    for (size_t i : r) n += static_cast<int64_t>(samples[i].ids.size());
    T = std::max(T, n);
  }
  const auto B = static_cast<int64_t>(rows.size());
  std::vector<int64_t> ids(static_cast<size_t>(B * T), pad_id), seg(ids.size(), -1), lab(ids.size(), -100);
  SftBatch b;
  for (int64_t r = 0; r < B; ++r) {
    int64_t at = r * T, number = 0;
    for (size_t i : rows[static_cast<size_t>(r)]) {
      const SftSample& s = samples[i];
      const auto n = static_cast<int64_t>(s.ids.size());
      for (int64_t t = 0; t < n; ++t) {
        ids[static_cast<size_t>(at + t)] = s.ids[static_cast<size_t>(t)];
        seg[static_cast<size_t>(at + t)] = number;
        // Position t predicts token t + 1: labelled when that token is the response's (or its EOS).
        if (t + 1 < n && t + 1 >= s.prompt_len) {
          lab[static_cast<size_t>(at + t)] = s.ids[static_cast<size_t>(t + 1)];
          ++b.label_tokens;
        }
      }
      at += n;
      ++number;
    }
  }
  b.ids = torch::tensor(ids, torch::kLong).view({B, T});
  b.segments = torch::tensor(seg, torch::kLong).view({B, T});
  b.labels = torch::tensor(lab, torch::kLong).view({B, T});
  return b;
}

torch::Tensor sft_loss(model::CausalLM& lm, const SftBatch& batch) {
  ZRL_CHECK(batch.label_tokens > 0, "sft_loss: the batch has no response token to learn");
  auto logits = lm->forward_packed(batch.ids, batch.segments);
  auto sum = torch::nn::functional::cross_entropy(
      logits.reshape({-1, logits.size(-1)}), batch.labels.reshape({-1}).to(logits.device()),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum));
  return sum / static_cast<double>(batch.label_tokens);
}

}  // namespace zerorl::trainer
