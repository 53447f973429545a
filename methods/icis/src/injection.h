#pragma once
// Shared scaffolding of the classifier-injection methods (ICIS and its baselines): the seen/unseen
// class split, the descriptors, the base linear classifier over the seen classes, and the joint
// head. Internal to methods/icis.
#include <ATen/core/Tensor.h>

#include <string>

#include "vlb/core/params.h"
#include "vlb/methods/method.h"

namespace vlb::icis {

/// The parameters every injection method shares (descriptor kind, class splits, base classifier).
void add_common_params(ParamSchema& s);

/// Trains the seen-class linear classifier (spec §1.2): nn.Linear init N(0, 0.02) / zero bias,
/// softmax cross-entropy, Adam (lr, betas 0.9/0.999), seeded mini-batches, every row kept.
/// Returns Omega_s = [W_s | b_s], [S, D+1]. `select_rows`/`select_label` (optional): keep the
/// epoch with the best per-class accuracy on those rows (the official test-seen selection).
struct BaseClassifierOptions {
  double lr = 1e-4;
  int64_t epochs = 100;
  int64_t batch_size = 16;
};
at::Tensor train_base_classifier(const at::Tensor& x, const at::Tensor& y_local, int64_t num_seen,
                                 const BaseClassifierOptions& o, const at::Tensor& select_x,
                                 const at::Tensor& select_y, int64_t* selected_epoch);

class InjectionMethod : public Method {
 public:
  explicit InjectionMethod(const Params& p, std::string name);
  void fit(const DataView& train, const RunContext& ctx) final;
  Prediction predict(const DataView& eval, const RunContext& ctx) override;

 protected:
  /// Predicted [w | b] rows for the unseen classes, [U, D+1], in unseen-split order.
  virtual at::Tensor inject(const RunContext& ctx) = 0;

  std::string name_;
  at::Tensor seen_, unseen_;        // int64 class ids
  at::Tensor a_seen_, a_unseen_;    // [S, d_a], [U, d_a] float32
  at::Tensor a_all_;                // [C, d_a]
  at::Tensor omega_seen_;           // [S, D+1]
  at::Tensor omega_unseen_;         // [U, D+1]
  int64_t num_classes_ = 0;
  int64_t base_selected_epoch_ = -1;
  double inject_norm_ratio_ = 0.0;  // mean ||w|| injected / seen, before any inject_norm rescale

 private:
  std::string descriptor_, seen_split_, unseen_split_, descriptor_norm_, base_select_split_,
      inject_norm_;
  BaseClassifierOptions base_;
};

}  // namespace vlb::icis
