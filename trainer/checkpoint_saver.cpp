// trainer/checkpoint_saver.cpp: host mirrors of the model, reference and AdamW state (reused across saves),
// the background write (safetensors, optimizer archive, state, seal, rename, prune) and its timing. Not here:
// folder mechanics and the CRC32C manifest (checkpoint.cpp).
#include "trainer/checkpoint_saver.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "compat/optim_state_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/timer.h"
#include "model/checkpoint.h"
#include "trainer/checkpoint.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {

namespace {

// An empty host tensor, pinned when `pinned` (the model lives on CUDA: copies into it are asynchronous).
torch::Tensor host_empty(at::IntArrayRef sizes, torch::ScalarType dtype, bool pinned) {
  return torch::empty(sizes, torch::TensorOptions().dtype(dtype).pinned_memory(pinned));
}

// slot := src on the host (pinned memory when src is on CUDA: the copy is then asynchronous, finished by
// the caller's synchronize). The slot's storage is reused when the shape and dtype still match. Returns the
// bytes it had to allocate (0 when reused).
int64_t host_copy(const torch::Tensor& src, torch::Tensor& slot) {
  const bool pinned = src.is_cuda();
  int64_t allocated = 0;
  if (!slot.defined() || slot.sizes() != src.sizes() || slot.scalar_type() != src.scalar_type()) {
    slot = host_empty(src.sizes(), src.scalar_type(), pinned);
    allocated = static_cast<int64_t>(slot.nbytes());
  }
  slot.copy_(src.detach(), /*non_blocking=*/pinned);
  return allocated;
}

// A CPU model of `config` and `dtype` with uninitialized parameters (torch::empty: no initialization pass),
// moved into pinned memory when `pinned`. Adds its bytes to `bytes`.
model::CausalLM host_model(const model::ModelConfig& config, torch::ScalarType dtype, bool pinned,
                           int64_t& bytes) {
  torch::NoGradGuard ng;
  model::CausalLM m(config, dtype);
  for (auto& p : m->parameters()) {
    if (pinned) p.set_data(host_empty(p.sizes(), p.scalar_type(), true));
    bytes += static_cast<int64_t>(p.nbytes());
  }
  return m;
}

// Makes dst a CPU model of src's config and dtype whose parameters hold src's values. Built on first use
// (or taken from reserve()), then only copied into. Returns the bytes it had to allocate.
int64_t mirror_model(model::CausalLM& src, model::CausalLM& dst) {
  torch::NoGradGuard ng;
  int64_t allocated = 0;
  const bool pinned = src->device().is_cuda();
  if (dst.is_empty() || dst->dtype() != src->dtype())
    dst = host_model(src->config(), src->dtype(), pinned, allocated);
  auto d = dst->named_parameters(), s = src->named_parameters();
  ZRL_CHECK(d.size() == s.size(), "checkpoint: {} vs {} parameters in the host copy", d.size(), s.size());
  for (auto& item : d) {
    torch::Tensor slot = item.value().data();
    const void* before = slot.data_ptr();
    const torch::Tensor& from = s[item.key()];
    if (from.is_cuda() && !slot.is_pinned()) slot = torch::Tensor();  // move into pinned memory
    allocated += host_copy(from, slot);
    if (slot.data_ptr() != before) item.value().set_data(slot);
  }
  return allocated;
}

// A parameter's position in `params`, by its tensor.
std::map<const void*, size_t> parameter_index(const std::vector<torch::Tensor>& params) {
  std::map<const void*, size_t> index;
  for (size_t i = 0; i < params.size(); ++i) index[params[i].unsafeGetTensorImpl()] = i;
  return index;
}

// An AdamW over host_model's parameters with src's groups, options and state (moments copied to the host
// into `moments`, 3 slots per parameter), so that its archive loads like src's: by the position of the
// parameters in the groups. Returns the bytes it had to allocate for the moments.
int64_t mirror_optimizer(torch::optim::AdamW& src, model::CausalLM& src_model, model::CausalLM& host_model,
                         std::vector<torch::Tensor>& moments, std::unique_ptr<torch::optim::AdamW>& out) {
  const auto src_params = src_model->parameters();
  const auto host_params = host_model->parameters();
  const auto index = parameter_index(src_params);
  moments.resize(3 * src_params.size());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<std::pair<size_t, const torch::optim::AdamWParamState*>> states;
  for (const auto& g : src.param_groups()) {
    std::vector<torch::Tensor> params;
    for (const auto& p : g.params()) {
      const auto it = index.find(p.unsafeGetTensorImpl());
      ZRL_CHECK(it != index.end(), "checkpoint: the optimizer steps a tensor that is not a model parameter");
      params.push_back(host_params[it->second]);
      const auto st = src.state().find(compat::optimizer_state_key(src, p));
      if (st != src.state().end())
        states.push_back({it->second, static_cast<const torch::optim::AdamWParamState*>(st->second.get())});
    }
    groups.emplace_back(params, g.options().clone());
  }
  out = std::make_unique<torch::optim::AdamW>(std::move(groups));
  int64_t allocated = 0;
  for (const auto& [i, st] : states) {
    auto copy = std::make_unique<torch::optim::AdamWParamState>();
    copy->step(st->step());
    allocated += host_copy(st->exp_avg(), moments[3 * i]);
    copy->exp_avg(moments[3 * i]);
    allocated += host_copy(st->exp_avg_sq(), moments[3 * i + 1]);
    copy->exp_avg_sq(moments[3 * i + 1]);
    if (st->max_exp_avg_sq().defined()) {
      allocated += host_copy(st->max_exp_avg_sq(), moments[3 * i + 2]);
      copy->max_exp_avg_sq(moments[3 * i + 2]);
    }
    out->state()[compat::optimizer_state_key(*out, host_params[i])] = std::move(copy);
  }
  return allocated;
}

// The shape and dtype of a parameter's AdamW moments (its own), per model parameter; nullopt for one the
// optimizer does not step.
struct Shape {
  std::vector<int64_t> sizes;
  torch::ScalarType dtype;
};
std::vector<std::optional<Shape>> moment_shapes(const torch::optim::AdamW& opt, const model::CausalLM& lm) {
  const auto params = lm->parameters();
  const auto index = parameter_index(params);
  std::vector<std::optional<Shape>> out(params.size());
  for (const auto& g : opt.param_groups()) {
    for (const auto& p : g.params()) {
      const auto it = index.find(p.unsafeGetTensorImpl());
      ZRL_CHECK(it != index.end(), "checkpoint: the optimizer steps a tensor that is not a model parameter");
      out[it->second] = Shape{p.sizes().vec(), p.scalar_type()};
    }
  }
  return out;
}

}  // namespace

struct CheckpointSaver::Host {
  model::CausalLM model{nullptr}, reference{nullptr};
  std::vector<torch::Tensor> moments;  // 3 per model parameter: exp_avg, exp_avg_sq, max_exp_avg_sq
  std::unique_ptr<torch::optim::AdamW> optimizer;  // over model's host parameters, with the copied state
  std::string tmp, config_yaml, generation_config_from, zero_shards;
  Json state, timing;  // timing: written by the writer thread, read after its join
  int64_t step = 0;
};

CheckpointSaver::CheckpointSaver(std::string output_dir, int64_t keep_last, int64_t write_delay_ms)
    : output_dir_(std::move(output_dir)),
      keep_last_(keep_last),
      write_delay_ms_(write_delay_ms),
      host_(std::make_unique<Host>()) {}

CheckpointSaver::~CheckpointSaver() = default;

double CheckpointSaver::save(int64_t step, const CheckpointContents& c) {
  ZRL_CHECK(!c.model.is_empty(), "checkpoint step {}: no model to save", step);
  Stopwatch total, part;
  save_timing_ = Json::object();
  finish();  // at most one write in flight; its error surfaces here
  save_timing_["wait_previous_s"] = part.seconds();
  part.reset();
  Host& h = *host_;
  model::CausalLM src = c.model;
  int64_t allocated = mirror_model(src, h.model);
  if (!c.reference.is_empty()) {
    model::CausalLM ref = c.reference;
    allocated += mirror_model(ref, h.reference);
  } else {
    h.reference = model::CausalLM(nullptr);
  }
  h.optimizer.reset();
  if (c.optimizer) allocated += mirror_optimizer(*c.optimizer, src, h.model, h.moments, h.optimizer);
  if (src->device().is_cuda()) torch::cuda::synchronize();  // the non-blocking copies into pinned memory
  save_timing_["copy_s"] = part.seconds();
  save_timing_["allocated_bytes"] = allocated;
  part.reset();
  h.tmp = begin_checkpoint(output_dir_, step);
  if (c.tokenizer) c.tokenizer->save(h.tmp);
  save_timing_["tokenizer_s"] = part.seconds();
  h.step = step, h.state = c.state, h.config_yaml = c.config_yaml;
  h.generation_config_from = c.generation_config_from;
  h.zero_shards = c.zero_shards;
  h.timing = Json::object();
  const std::string what = "checkpoint step_" + std::to_string(step);
  writer_.submit(what, [this, &h] {
    Json t = Json::object();
    Stopwatch w;
    model::SaveOptions so;
    so.generation_config_from = h.generation_config_from;
    model::save_model(h.model, h.tmp, so);
    const std::string st = h.tmp + "/trainer_state";
    fs::create_directories(st);
    if (!h.reference.is_empty()) model::save_model(h.reference, st + "/reference");
    t["model_s"] = w.seconds();
    w.reset();
    if (h.optimizer) {
      torch::serialize::OutputArchive ar;
      h.optimizer->save(ar);
      ar.save_to(st + "/optimizer.pt");
    }
    if (!h.zero_shards.empty()) fs::rename(h.zero_shards, st + "/zero");  // same filesystem: checkpoints/
    t["optimizer_s"] = w.seconds();
    w.reset();
    write_file_atomic(st + "/state.json", h.state.dump(2));
    if (!h.config_yaml.empty()) write_file_atomic(st + "/config.yaml", h.config_yaml);
    t["state_s"] = w.seconds();
    if (write_delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(write_delay_ms_));
    const std::string final_dir = commit_checkpoint(h.tmp, output_dir_, h.step, &t);
    w.reset();
    prune_checkpoints(output_dir_, keep_last_);
    t["prune_s"] = w.seconds();
    h.timing = t;
    ZRL_INFO("checkpoint {} written in the background (model {:.2f} s, optimizer {:.2f} s, crc {:.2f} s)",
             final_dir, t["model_s"].get<double>(), t["optimizer_s"].get<double>(), t["crc_s"].get<double>());
  });
  save_timing_["blocking_s"] = total.seconds();
  return save_timing_["blocking_s"].get<double>();
}

void CheckpointSaver::reserve(const CheckpointContents& c) {
  ZRL_CHECK(!c.model.is_empty(), "checkpoint reserve: no model");
  finish();
  // What to allocate, read here (shapes and dtypes only): the job touches no tensor of the caller's.
  const model::CausalLM src = c.model;
  const bool pinned = src->device().is_cuda();
  const model::ModelConfig config = src->config();
  const torch::ScalarType dtype = src->dtype();
  std::optional<std::pair<model::ModelConfig, torch::ScalarType>> reference;
  if (!c.reference.is_empty()) reference = {{c.reference->config(), c.reference->dtype()}};
  const auto moments = c.optimizer ? moment_shapes(*c.optimizer, src) : std::vector<std::optional<Shape>>{};
  Host& h = *host_;
  writer_.submit("checkpoint reserve", [&h, pinned, config, dtype, reference, moments] {
    Stopwatch w;
    int64_t bytes = 0;
    try {
      h.model = host_model(config, dtype, pinned, bytes);
      if (reference) h.reference = host_model(reference->first, reference->second, pinned, bytes);
      h.moments.assign(3 * moments.size(), torch::Tensor());
      for (size_t i = 0; i < moments.size(); ++i) {
        if (!moments[i]) continue;
        for (size_t k = 0; k < 2; ++k) {  // exp_avg, exp_avg_sq (max_exp_avg_sq, amsgrad only: on first save)
          h.moments[3 * i + k] = host_empty(moments[i]->sizes, moments[i]->dtype, pinned);
          bytes += static_cast<int64_t>(h.moments[3 * i + k].nbytes());
        }
      }
    } catch (const std::exception& e) {  // out of (pinned) host memory: the first save allocates instead
      ZRL_WARN("checkpoint reserve: {}; the first checkpoint allocates its host copies itself", e.what());
      h.model = model::CausalLM(nullptr), h.reference = model::CausalLM(nullptr), h.moments.clear();
      bytes = 0;
    }
    h.timing = Json{{"reserve_s", w.seconds()}, {"reserved_bytes", bytes}};
    ZRL_INFO("checkpoint host copies reserved: {:.2f} GB in {:.2f} s{}", bytes / 1e9, w.seconds(),
             pinned ? " (pinned)" : "");
  });
}

void CheckpointSaver::finish() {
  if (!writer_.busy()) return;
  writer_.wait();
  write_timing_ = host_->timing;
  write_timing_["background_s"] = writer_.last_seconds();
}

Json CheckpointSaver::timing() const {
  Json t = save_timing_;
  for (const auto& [k, v] : write_timing_.items()) t[k] = v;
  return t;
}

int64_t checkpoint_delay_from_env() {
  const char* v = std::getenv("ZERORL_TEST_CHECKPOINT_DELAY_MS");
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  const long long ms = std::strtoll(v, &end, 10);
  ZRL_CHECK(*end == '\0' && ms >= 0, "ZERORL_TEST_CHECKPOINT_DELAY_MS is '{}', not a number of milliseconds",
            v);
  return ms;
}

}  // namespace zerorl::trainer
