#pragma once
// ICIS (Christensen et al., ICCV 2023: image-free classifier injection with semantics) and the
// injection baselines it is compared with, on precomputed features (task shape kGzsl).
//
// Every method here: trains (or is given) a linear classifier over the seen classes on the
// training split, predicts weights + bias for the unseen classes from the class descriptors
// (/classes/descriptors/<kind>) without images, appends them and scores the evaluation rows over
// all seen + unseen classes ([n, C]; columns of classes in neither split get -inf).
// Metrics (gzsl) restrict to the unseen head for ZSL.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vlb/core/options.h"
#include "vlb/methods/method.h"

namespace vlb {
namespace icis {

/// Per-row loss: 1 - cos(x_i, y_i) (eps 1e-8, as torch) or mean_d (x_id - y_id)^2. Returns [n].
at::Tensor row_loss(const at::Tensor& x, const at::Tensor& y, bool cosine);

struct JointLosses {
  at::Tensor aa, wa, ww, aw;  // scalars
};
/// The four reconstruction losses of ICIS for one batch (attribute -> attribute, weight ->
/// attribute, weight -> weight, attribute -> weight): L_aa averaged over all B rows; L_wa, L_ww,
/// L_aw over the rows with a real target weight (mask), divided by max(sum(mask), 1).
JointLosses joint_losses(const at::Tensor& a, const at::Tensor& w, const at::Tensor& mask,
                         const at::Tensor& a_aa, const at::Tensor& a_wa, const at::Tensor& w_ww,
                         const at::Tensor& w_aw, bool cosine);

/// Orthonormal basis Q [(D+1), S] of the span of the seen weight rows (reduced QR of Omega^T).
at::Tensor seen_subspace_basis(const at::Tensor& omega_seen);
/// x - x Q Q^T: the part of predicted weights outside the seen weights' span.
at::Tensor off_subspace(const at::Tensor& x, const at::Tensor& q);

/// The official early-stopping slope rule: after each epoch's mean loss is appended, for epochs
/// > 20 (0-based): slope = -(mean(last 10) - mean(previous 10)) / 10; a slope below `threshold`
/// increments a counter (else resets it); stop when it reaches `patience`.
class SlopeEarlyStop {
 public:
  SlopeEarlyStop(double threshold, int patience = 5) : threshold_(threshold), patience_(patience) {}
  /// Appends one epoch's loss; true when training should stop after this epoch.
  bool update(double epoch_loss);
  const std::vector<double>& losses() const { return losses_; }

 private:
  double threshold_;
  int patience_;
  int counter_ = 0;
  std::vector<double> losses_;
};

// The training-free injection rules the ICIS paper compares with; a: descriptors, omega_seen
// [S, D+1].
/// COSTA (Mensink et al., CVPR 2014): w_u = sum_s (a_u . a_s) Omega_s / (sum_s a_u . a_s + 1e-4).
at::Tensor costa_weights(const at::Tensor& a_unseen, const at::Tensor& a_seen,
                         const at::Tensor& omega_seen);
/// VGSE-WAvg (Xu et al., CVPR 2022): w_u = sum_s exp(-eta ||a_u - a_s||) Omega_s.
at::Tensor wavg_weights(const at::Tensor& a_unseen, const at::Tensor& a_seen,
                        const at::Tensor& omega_seen, double eta);
/// The norm-scale heuristic: W / (10 * mean row norm of W).
at::Tensor norm_scale_heuristic(const at::Tensor& w);
/// ConSE (Norouzi et al., ICLR 2014): e(x) = sum_s p_s a_s with p = softmax(logits), restricted to
/// the top_t most probable seen classes and renormalized when top_t > 0; scores [n, C] =
/// cos(e(x), a_c).
at::Tensor conse_scores(const at::Tensor& seen_logits, const at::Tensor& a_seen,
                        const at::Tensor& a_all, int64_t top_t = 0);

/// Test hook: train the injectors and the base classifier with LibTorch autograd and
/// torch::optim::Adam (the reference) instead of the hand-written steps of
/// vlb/methods/impl/fused_train.h (the default). Process-wide; tests/icis compares the two.
void set_autograd_reference(bool on);
bool autograd_reference();

// ---- Shared scaffolding of the injection methods (methods/icis/blocks.cpp) ----

/// Trains the seen-class linear classifier as the official ICIS code does: nn.Linear init
/// N(0, 0.02) / zero bias, softmax cross-entropy, Adam (lr, betas 0.9/0.999), seeded mini-batches,
/// every row kept. Returns Omega_s = [W_s | b_s], [S, D+1]. `select_x`/`select_y` (optional): keep
/// the epoch with the best per-class accuracy on those rows (the official test-seen selection).
struct BaseClassifierOptions {
  double lr = 1e-4;
  int64_t epochs = 100;
  int64_t batch_size = 16;
};
at::Tensor train_base_classifier(const at::Tensor& x, const at::Tensor& y_local, int64_t num_seen,
                                 const BaseClassifierOptions& o, const at::Tensor& select_x,
                                 const at::Tensor& select_y, int64_t* selected_epoch,
                                 at::Generator gen);

/// The options every injection method shares: descriptor kind, class splits, base classifier,
/// injected row length.
struct InjectionOptions {
  std::string descriptor = "att";
  std::string descriptor_norm = "l2";
  std::string seen_split = "seen";
  std::string unseen_split = "unseen";
  BaseClassifierOptions base;
  std::string inject_norm = "none";
  std::string base_select_split;  // empty: the last base-classifier epoch
};
/// Their table, included first by the table of every injection method.
const OptionTable<InjectionOptions>& injection_options();

class InjectionMethod : public Method {
 public:
  InjectionMethod(const InjectionOptions& o, std::string name);
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
  InjectionOptions o_;
};

}  // namespace icis
}  // namespace vlb
