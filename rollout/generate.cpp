// rollout/generate.cpp: `zerorl generate` on rollout::Engine, and the StreamDecoder adapter.
// Not here: CLI flags (apps/).
#include "rollout/generate.h"

#include "core/error.h"
#include "rollout/engine.h"

namespace zerorl::rollout {

namespace {

class TokenizerStream : public TextStream {
 public:
  explicit TokenizerStream(const tokenizer::Tokenizer& tok) : decoder_(tok) {}
  std::string push(int64_t id) override { return decoder_.step(static_cast<int32_t>(id)); }
  std::string finish() override { return decoder_.finish(); }

 private:
  tokenizer::StreamDecoder decoder_;
};

}  // namespace

TextStreamFactory stream_detokenizer(const tokenizer::Tokenizer& tok) {
  return [tok] { return std::make_unique<TokenizerStream>(tok); };
}

Json generate_json(model::CausalLM lm, const GenerateRequest& request, const tokenizer::Tokenizer* tok) {
  EngineOptions options;
  if (tok != nullptr) options.detokenizer = stream_detokenizer(*tok);
  Engine engine(std::move(lm), options);
  GenerateConfig config;
  config.sampler.temperature = request.temperature;
  config.sampler.top_p = request.top_p;
  config.sampler.top_k = request.top_k;
  config.sampler.min_p = request.min_p;
  config.group_size = request.num_samples;
  config.seed = request.seed;
  config.stop.max_new_tokens = request.max_new_tokens;
  config.stop.eos_ids = request.eos_ids;
  config.stop.stop = request.stop;
  const auto run = engine.generate(request.prompts, config);
  Json sequences = Json::array(), texts = Json::array(), reasons = Json::array();
  for (const auto& t : run.samples) {
    auto seq = request.prompts[static_cast<size_t>(t.prompt_index)];
    seq.insert(seq.end(), t.tokens.begin(), t.tokens.end());
    if (tok != nullptr) texts.push_back(tok->decode(std::vector<int32_t>(seq.begin(), seq.end())));
    sequences.push_back(std::move(seq));
    reasons.push_back(finish_reason_name(t.finish));
  }
  Json out = {{"sequences", sequences}, {"finish_reasons", reasons}};
  if (tok != nullptr) out["texts"] = texts;
  return out;
}

}  // namespace zerorl::rollout
