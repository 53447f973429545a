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
  std::string device = "cpu";
  std::function<void(const std::string&)> log = [](const std::string&) {};
};

struct Prediction {
  at::Tensor scores;                       // see the task shapes above
  std::map<std::string, at::Tensor> aux;   // optional extra outputs (neighbour ids, refined labels)
};

class Method {
 public:
  virtual ~Method() = default;
  /// Training or training-free preparation. May read any split-independent dataset content
  /// (class names, descriptors, texts) through train.dataset.
  virtual void fit(const DataView& train, const RunContext& ctx) = 0;
  virtual Prediction predict(const DataView& eval, const RunContext& ctx) = 0;
};

using MethodRegistry = Registry<Method>;

/// Tag helper: "task:classification" etc., used in RegistryEntry::tags.
std::string task_tag(Task t);

// A method family registers its methods with register_<family>(MethodRegistry&), defined in
// methods/<family>/<family>.cpp and listed once in vlb/experiments/builtins.h (methods/README.md).


}  // namespace vlb
