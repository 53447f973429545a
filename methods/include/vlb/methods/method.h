#pragma once
// The one interface every method implements, for all six task shapes (enum Task below).
//
// A method is created from validated Params, fitted on a training view and asked for scores on an
// evaluation view. It never computes a metric: metrics/ turns Predictions into numbers.
//
// Task shapes and what `Prediction::scores` means in each:
//  - kClassification  single-label, closed set (few-shot, linear probe, zero-shot):
//                     scores [n, C] over all dataset classes; higher = more likely.
//  - kGzsl            single-label with class descriptors (ZSL/GZSL, ICIS): scores [n, C] over all
//                     classes (seen and unseen; the metric restricts to the unseen head for ZSL).
//                     Inputs: dataset descriptors[kind], class_splits seen/unseen.
//  - kOpenVocab       open vocabulary with noisy free-form labels (VF-FGVR / NeaR): scores [n, C]
//                     over the dataset's class names, plus aux["pred_text"] when the method names
//                     new strings. Inputs: texts (label strings, cls = -1), label of train rows unused.
//  - kMultiLabel      multi-label with partial labels over spatial feature maps (SARL): scores
//                     [n, C] logits; targets are labels [n, C] in {+1, -1, 0 = unknown}.
//  - kImageText       image-text pairs and groups (retrieval, compositional tests): scores
//                     [n_images, T] similarities to all texts; groups index into both axes.
//  - kFewShotTextBank few-shot with a text bank (CODER adapter): scores [n, C]; inputs are
//                     train rows (the shots) plus texts as the bank.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vlb/core/registry.h"
#include "vlb/datasets/dataset.h"

namespace vlb {

enum class Task { kClassification, kGzsl, kOpenVocab, kMultiLabel, kImageText, kFewShotTextBank };
const char* to_string(Task t);

/// What a run gives a method besides its data: seeds, threads, device, a log sink.
struct RunContext {
  uint64_t seed = 0;   // torch's global generator is seeded with it before fit()
  int threads = 1;     // at::set_num_threads was called with it
  // "cuda" only for methods tagged "device:cuda" (runtime.device): the run's dataset is then a
  // to_device copy, and such a method creates every tensor there (Note [Devices]). Random draws
  // stay on the CPU generator below and are copied up, so both devices start from the same state.
  std::string device = "cpu";
  std::function<void(const std::string&)> log = [](const std::string&) {};
  /// The run's own generator, seeded with `seed` (the same stream as the global one after
  /// at::manual_seed(seed)). Empty: use the global one. Note [Trained together].
  at::Generator generator;
};

/// ctx.generator, or torch's global generator when the caller left it empty.
at::Generator generator_of(const RunContext& ctx);

struct Prediction {
  at::Tensor scores;                       // see the task shapes above
  std::map<std::string, at::Tensor> aux;   // optional extra outputs (neighbour ids, refined labels)
};

/// The same prediction with every tensor on the CPU: the one copy a run on a device makes of its
/// results, for the metrics and predictions.h5 (Note [Devices] in experiments/src/device.cpp).
Prediction to_cpu(Prediction p);

class Method {
 public:
  virtual ~Method() = default;
  /// Training or training-free preparation. May read any split-independent dataset content
  /// (class names, descriptors, texts) through train.dataset.
  virtual void fit(const DataView& train, const RunContext& ctx) = 0;
  virtual Prediction predict(const DataView& eval, const RunContext& ctx) = 0;

  struct Member {
    Method* method;        // of this method's class, created from its own run's params
    const DataView* train;
    const RunContext* ctx;
    std::string error;     // set when this member's fit threw; the others go on
  };
  /// Fits every member as fit(*train, *ctx) would, each result bit for bit the same, at once.
  /// Only called for methods tagged "together" (Note [Trained together]). The default spreads
  /// the members over at::get_num_threads() threads, each member's work single-threaded, and
  /// OpenBLAS in the calling thread meanwhile.
  virtual void fit_together(std::vector<Member>& members);
};

// Note [Trained together]: a sweep often fits the same small model for several seeds, or for
// several values of a scalar such as l2 or lr. A method tagged "together" lets the runner fit such
// runs of a sweep (same method and dataset, any params and seeds) in one fit_together call, and
// promises:
//  - fit() draws every random number from generator_of(ctx) and touches no other global state,
//    so members can run on separate threads;
//  - its result does not depend on the intra-op thread count (ATen's reductions split by thread
//    count, so such a method runs its own ATen work under SerialIntraOp; OpenBLAS's sgemm splits
//    rows and columns among threads, never the sum over k, so GEMMs may stay threaded);
//  - fit_together gives each member exactly what fit() alone gives
//    (tests/methods/test_trained_together.cpp compares them bit for bit).
// On a CPU the default fit_together is the batched form that pays: at these sizes one member's
// GEMMs cannot keep several cores busy, so members run side by side, one per core. An override
// may do better: linear_probe solves an L-BFGS problem that several seeds share only once.
/// Runs ATen's own kernels single-threaded while alive (no effect inside a parallel region, where
/// they already are). BLAS is left alone.
class SerialIntraOp {
 public:
  SerialIntraOp();
  ~SerialIntraOp();
  SerialIntraOp(const SerialIntraOp&) = delete;
  SerialIntraOp& operator=(const SerialIntraOp&) = delete;

 private:
  int saved_ = 0;
};


using MethodRegistry = Registry<Method>;

/// Tag helper: "task:classification" etc., used in RegistryEntry::tags.
std::string task_tag(Task t);

// A method family registers its methods with register_<family>(MethodRegistry&), defined in
// methods/<family>/<family>.cpp and listed once in vlb/experiments/builtins.h (methods/README.md).


}  // namespace vlb
