#include "vlb/methods/method.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>

#include "vlb/methods/impl/neighbours.h"

namespace vlb {

const char* to_string(Task t) {
  switch (t) {
    case Task::kClassification: return "classification";
    case Task::kGzsl: return "gzsl";
    case Task::kOpenVocab: return "open_vocab";
    case Task::kMultiLabel: return "multilabel";
    case Task::kImageText: return "image_text";
    case Task::kFewShotTextBank: return "fewshot_textbank";
  }
  return "?";
}

std::string task_tag(Task t) { return std::string("task:") + to_string(t); }

Prediction to_cpu(Prediction p) {
  if (p.scores.defined()) p.scores = p.scores.cpu();
  for (auto& kv : p.aux)
    if (kv.second.defined()) kv.second = kv.second.cpu();
  return p;
}

at::Generator generator_of(const RunContext& ctx) {
  return ctx.generator.defined() ? ctx.generator : at::detail::getDefaultCPUGenerator();
}

SerialIntraOp::SerialIntraOp() {
  if (at::in_parallel_region()) return;
  saved_ = at::get_num_threads();
  if (saved_ != 1) at::set_num_threads(1);
}

SerialIntraOp::~SerialIntraOp() {
  if (saved_ > 1) at::set_num_threads(saved_);
}

void Method::fit_together(std::vector<Member>& members) {
  // One worker per thread, each taking the next member as it finishes one (members differ in
  // cost). at::parallel_for marks its workers as inside a parallel region, so each member's ATen
  // work runs in its worker's thread; OpenBLAS stays in the calling thread (Note
  // [single-threaded BLAS] in methods/icis/fused.cpp) for the whole group.
  const int64_t n = static_cast<int64_t>(members.size());
  const int64_t workers = std::min<int64_t>(at::get_num_threads(), n);
  const int saved_blas = set_blas_num_threads(1);
  std::atomic<int64_t> next{0};
  at::parallel_for(0, workers, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t w = lo; w < hi; ++w)
      for (int64_t i; (i = next.fetch_add(1)) < n;) {
        Member& m = members[static_cast<size_t>(i)];
        try {
          m.method->fit(*m.train, *m.ctx);
        } catch (const std::exception& e) {
          m.error = e.what();
        }
      }
  });
  if (saved_blas > 1) set_blas_num_threads(saved_blas);
}


}  // namespace vlb
