#pragma once
// Hand-written training steps for the two small networks of the injection methods: the ICIS
// injector (joint attribute/weight autoencoders, or the single MLP a -> [w|b]) and the seen-class
// softmax classifier. No autograd and no allocation per step: parameters, gradients and Adam
// moments live in flat preallocated buffers, each layer is one GEMM into a preallocated output,
// and the loss gradients and the Adam update are plain loops (docs/performance.md, "ICIS training").
//
// Note [fused Adam]: the update is torch.optim.Adam's (LibTorch 1.13), element by element in
// the same float operations: m = fma(g, 1-b1, m*b1); v = fma((1-b2)*g, g, v*b2);
// p += (-lr/bc1 * m) / (sqrt(v) / sqrt(bc2) + eps), bc_k = 1 - b_k^t. The ATen kernels it
// replaces use FMA for add_ with alpha and for addcmul_; this was checked bit for bit against
// the optimizer (tests/icis/test_icis_fused.cpp). Losses and gradients sum in another order than
// autograd's, so the two paths agree to float rounding, not bit for bit.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace vlb::icis {

/// One Adam step over n contiguous floats (Note [fused Adam]); `step` counts from 1. Elementwise,
/// so any split over threads gives the same bits.
void adam_step(float* p, const float* g, float* m, float* v, int64_t n, int64_t step, double lr,
               double beta1, double beta2, double eps);

/// Runs OpenBLAS in the calling thread while alive (Note [single-threaded BLAS]).
class BlasSingleThread {
 public:
  BlasSingleThread();
  ~BlasSingleThread();
  BlasSingleThread(const BlasSingleThread&) = delete;
  BlasSingleThread& operator=(const BlasSingleThread&) = delete;

 private:
  void* set_ = nullptr;
  int saved_ = 1;
};

struct FusedInjectorConfig {
  bool joint = true;
  bool cosine = true;
  double w_aa = 1, w_wa = 1, w_ww = 1, w_aw = 1;
  double subreg_weight = 0;
  double lr = 1e-5;
  int64_t max_batch = 16;
};

/// The injector of InjectorOptions trained without autograd. `layers` are the (weight, bias)
/// pairs of enc_a, dec_a, enc_w, dec_w as created (their values are copied, so the seed -> init
/// mapping is the module's). `q`: the Sub.Reg. basis (undefined when subreg_weight is 0).
class FusedInjector {
 public:
  FusedInjector(const FusedInjectorConfig& c, const at::Tensor& a, const at::Tensor& w,
                const at::Tensor& mask, const std::vector<at::Tensor>& layers, const at::Tensor& q);
  /// One Adam step on the rows `idx` (int64, at most max_batch); returns the batch loss as the
  /// float the autograd path's loss tensor holds.
  double step(const at::Tensor& idx);
  /// dec_w(relu(enc_a(a))): the injected [w|b] rows.
  at::Tensor predict(const at::Tensor& a) const;

 private:
  // Per batch size b: views of the preallocated buffers over the first b (or 2b) rows.
  struct Views {
    at::Tensor ab, wb, za, zw, z, outa, outw, waw, ga, gw, gaw, dz, dza, dzw, xq, rq, gxq;
  };
  Views& views(int64_t b);
  double loss_and_grad(int64_t b);

  FusedInjectorConfig c_;
  int64_t n_, da_, d1_, h_, trained_ = 0;
  at::Tensor a_, w_, mask_, q_;
  at::Tensor p_, g_, m_, v_;          // flat parameters, gradients, Adam moments
  at::Tensor W1_, b1_, W2_, b2_, W3_, b3_, W4_, b4_, gW1_, gb1_, gW2_, gb2_, gW3_, gb3_, gW4_, gb4_;
  at::Tensor ab_, wb_, mb_;            // gathered batch rows
  at::Tensor z_, dz_, outa_, outw_, ga_, gw_, xq_, gxq_, rq_;  // activations and their gradients
  std::vector<Views> views_;           // per batch size, made once
  int64_t step_ = 0;
  BlasSingleThread blas_;
};

/// The seen-class softmax classifier of train_base_classifier without autograd: logits
/// x W^T + b, mean cross-entropy, Adam (betas 0.9 / 0.999). Starts from copies of w [S, D] and
/// b [S].
class FusedSoftmax {
 public:
  FusedSoftmax(const at::Tensor& x, const at::Tensor& y, const at::Tensor& w, const at::Tensor& b,
               double lr, int64_t max_batch);
  /// One Adam step on the rows `idx` (int64, at most max_batch).
  void step(const at::Tensor& idx);
  const at::Tensor& weight() const { return w_; }
  const at::Tensor& bias() const { return b_; }

 private:
  at::Tensor x_, y_, p_, g_, m_, v_, w_, b_, gw_, gb_, xb_, logits_;
  double lr_;
  int64_t step_ = 0;
  BlasSingleThread blas_;
};

}  // namespace vlb::icis
