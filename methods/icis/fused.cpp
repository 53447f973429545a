// The injector and base-classifier training steps without autograd
// (vlb/methods/impl/fused_train.h): GEMMs into preallocated outputs, loss gradients and Adam as
// loops over raw buffers.
#include "vlb/methods/impl/fused_train.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "vlb/core/error.h"

namespace vlb::icis {
namespace {

// Note [fused Adam] per element. noinline: inlined into the vector functions below, whose target
// has FMA, the compiler could contract m * b1 + ... and change the rounding.
__attribute__((noinline)) void adam_scalar(float* p, const float* g, float* m, float* v,
                                           int64_t n, float b1, float a1, float b2, float a2,
                                           float step, float sbc2, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    m[i] = std::fma(g[i], a1, m[i] * b1);
    v[i] = std::fma(a2 * g[i], g[i], v[i] * b2);
    const float denom = std::sqrt(v[i]) / sbc2 + eps;
    p[i] = p[i] + (step * m[i]) / denom;
  }
}

__attribute__((target("avx512f"))) void adam_avx512(float* p, const float* g, float* m, float* v,
                                                    int64_t n, float b1, float a1, float b2,
                                                    float a2, float step, float sbc2, float eps) {
  const __m512 vb1 = _mm512_set1_ps(b1), va1 = _mm512_set1_ps(a1), vb2 = _mm512_set1_ps(b2),
               va2 = _mm512_set1_ps(a2), vstep = _mm512_set1_ps(step),
               vs = _mm512_set1_ps(sbc2), veps = _mm512_set1_ps(eps);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 gi = _mm512_loadu_ps(g + i);
    const __m512 mi = _mm512_fmadd_ps(gi, va1, _mm512_mul_ps(_mm512_loadu_ps(m + i), vb1));
    const __m512 vi = _mm512_fmadd_ps(_mm512_mul_ps(va2, gi), gi,
                                      _mm512_mul_ps(_mm512_loadu_ps(v + i), vb2));
    // The masked form with every lane on: _mm512_sqrt_ps trips GCC 12's -Wmaybe-uninitialized.
    const __m512 root = _mm512_mask_sqrt_ps(_mm512_setzero_ps(), __mmask16(0xFFFF), vi);
    const __m512 den = _mm512_add_ps(_mm512_div_ps(root, vs), veps);
    const __m512 pi = _mm512_add_ps(_mm512_loadu_ps(p + i),
                                    _mm512_div_ps(_mm512_mul_ps(vstep, mi), den));
    _mm512_storeu_ps(m + i, mi);
    _mm512_storeu_ps(v + i, vi);
    _mm512_storeu_ps(p + i, pi);
  }
  adam_scalar(p + i, g + i, m + i, v + i, n - i, b1, a1, b2, a2, step, sbc2, eps);
}

__attribute__((target("avx2,fma"))) void adam_avx2(float* p, const float* g, float* m, float* v,
                                                   int64_t n, float b1, float a1, float b2,
                                                   float a2, float step, float sbc2, float eps) {
  const __m256 vb1 = _mm256_set1_ps(b1), va1 = _mm256_set1_ps(a1), vb2 = _mm256_set1_ps(b2),
               va2 = _mm256_set1_ps(a2), vstep = _mm256_set1_ps(step),
               vs = _mm256_set1_ps(sbc2), veps = _mm256_set1_ps(eps);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gi = _mm256_loadu_ps(g + i);
    const __m256 mi = _mm256_fmadd_ps(gi, va1, _mm256_mul_ps(_mm256_loadu_ps(m + i), vb1));
    const __m256 vi = _mm256_fmadd_ps(_mm256_mul_ps(va2, gi), gi,
                                      _mm256_mul_ps(_mm256_loadu_ps(v + i), vb2));
    const __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), vs), veps);
    const __m256 pi = _mm256_add_ps(_mm256_loadu_ps(p + i),
                                    _mm256_div_ps(_mm256_mul_ps(vstep, mi), den));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(p + i, pi);
  }
  adam_scalar(p + i, g + i, m + i, v + i, n - i, b1, a1, b2, a2, step, sbc2, eps);
}

using AdamFn = void (*)(float*, const float*, float*, float*, int64_t, float, float, float, float,
                        float, float, float);
AdamFn pick_adam() {
  if (__builtin_cpu_supports("avx512f")) return adam_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return adam_avx2;
  return adam_scalar;
}

float* fp(const at::Tensor& t) { return t.data_ptr<float>(); }

// Column sums of a row-major [rows, cols] block, rows in order (as autograd's bias gradient).
void col_sum(const float* x, int64_t rows, int64_t cols, float* out) {
  std::fill(out, out + cols, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) out[j] += x[r * cols + j];
}

// Row loss of x against target y (n entries) and its gradient, times `coef`, into gx. Returns the
// loss. Cosine: torch 1.13's cosine_similarity, sum_d (x_d / |x|)(y_d / |y|) with each squared
// norm clamped at eps^2 (eps 1e-8); MSE: mean_d (x_d - y_d)^2.
double row_loss_grad(const float* x, const float* y, int64_t n, bool cosine, float coef,
                     float* gx) {
  if (cosine) {
    double sx = 0, sy = 0, sxy = 0;
    for (int64_t d = 0; d < n; ++d) {
      sx += double(x[d]) * x[d];
      sy += double(y[d]) * y[d];
      sxy += double(x[d]) * y[d];
    }
    const double e2 = 1e-8 * 1e-8;
    const double nx = std::sqrt(std::max(sx, e2)), ny = std::sqrt(std::max(sy, e2));
    const double cos = sxy / (nx * ny);
    if (coef != 0) {
      // d(1 - cos)/dx = -y / (|x||y|) + cos x / |x|^2.
      const double a = -double(coef) / (nx * ny), b = double(coef) * cos / (nx * nx);
      for (int64_t d = 0; d < n; ++d) gx[d] = float(a * y[d] + b * x[d]);
    } else {
      std::fill(gx, gx + n, 0.0f);
    }
    return 1.0 - cos;
  }
  double s = 0;
  for (int64_t d = 0; d < n; ++d) s += (double(x[d]) - y[d]) * (double(x[d]) - y[d]);
  const double k = 2.0 * double(coef) / double(n);
  for (int64_t d = 0; d < n; ++d) gx[d] = float(k * (double(x[d]) - y[d]));
  return s / double(n);
}

void gather_rows(const at::Tensor& src, const int64_t* idx, int64_t b, at::Tensor& dst) {
  const int64_t cols = src.size(1);
  const float* s = fp(src);
  float* d = fp(dst);
  for (int64_t r = 0; r < b; ++r) std::copy_n(s + idx[r] * cols, cols, d + r * cols);
}

// A [rows, cols] tensor (cols 0: a [rows] vector) over flat storage at `off`; advances off.
at::Tensor carve(const at::Tensor& flat, int64_t& off, int64_t rows, int64_t cols) {
  const int64_t n = cols > 0 ? rows * cols : rows;
  auto t = flat.narrow(0, off, n);
  off += n;
  return cols > 0 ? t.view({rows, cols}) : t;
}

std::atomic<bool> g_reference{false};

}  // namespace

// Note [single-threaded BLAS]: at batch 16 every GEMM is small, and OpenBLAS (pthreads build)
// hands each one to its own worker threads, which then spin in sched_yield while ATen's OpenMP
// threads spin too: on 2 cores most of the time went there (docs/performance.md). While a fused
// trainer lives, OpenBLAS runs in the calling thread. Its sgemm splits rows and columns among
// threads, never the sum over k, so this changes no result. Looked up at run time: a BLAS other
// than OpenBLAS has no such switch, and then nothing happens.
BlasSingleThread::BlasSingleThread() {
  using Get = int (*)();
  static const auto get = reinterpret_cast<Get>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  static const auto set =
      reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!get || !set) return;
  set_ = reinterpret_cast<void*>(set);
  saved_ = get();
  if (saved_ != 1) set(1);
}

BlasSingleThread::~BlasSingleThread() {
  if (set_ && saved_ != 1) reinterpret_cast<void (*)(int)>(set_)(saved_);
}

void set_autograd_reference(bool on) { g_reference = on; }
bool autograd_reference() { return g_reference; }

void adam_step(float* p, const float* g, float* m, float* v, int64_t n, int64_t step, double lr,
               double beta1, double beta2, double eps) {
  static const AdamFn fn = pick_adam();
  // The scalars as torch::optim::Adam hands them to the ATen kernels (doubles cast to float).
  const double bc1 = 1 - std::pow(beta1, double(step)), bc2 = 1 - std::pow(beta2, double(step));
  const float b1 = float(beta1), a1 = float(1 - beta1), b2 = float(beta2), a2 = float(1 - beta2),
              st = float(-(lr / bc1)), s2 = float(std::sqrt(bc2)), e = float(eps);
  // Blocks of a fixed size: the update is elementwise, so the split changes no bits.
  constexpr int64_t kBlock = 1 << 16;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  auto run = [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      const int64_t i = k * kBlock, len = std::min(kBlock, n - i);
      fn(p + i, g + i, m + i, v + i, len, b1, a1, b2, a2, st, s2, e);
    }
  };
  if (blocks >= 4) at::parallel_for(0, blocks, 1, run); else run(0, blocks);
}

FusedInjector::FusedInjector(const FusedInjectorConfig& c, const at::Tensor& a,
                             const at::Tensor& w, const at::Tensor& mask,
                             const std::vector<at::Tensor>& layers, const at::Tensor& q)
    : c_(c), n_(a.size(0)), da_(a.size(1)), d1_(w.size(1)) {
  if (layers.size() != 8) throw Error("internal: FusedInjector needs 4 (weight, bias) pairs");
  h_ = layers[0].size(0);
  a_ = a.to(at::kFloat).contiguous();
  w_ = w.to(at::kFloat).contiguous();
  mask_ = mask.to(at::kFloat).contiguous();
  if (c_.subreg_weight > 0) q_ = q.to(at::kFloat).contiguous();
  // Layout: enc_a, dec_w first (the single MLP trains only these), then dec_a, enc_w.
  const int64_t total = 2 * h_ * (da_ + d1_) + 2 * h_ + da_ + d1_;
  auto f = at::TensorOptions().dtype(at::kFloat);
  p_ = at::zeros({total}, f);
  g_ = at::zeros({total}, f);
  m_ = at::zeros({total}, f);
  v_ = at::zeros({total}, f);
  int64_t off = 0, goff = 0;
  auto both = [&](at::Tensor& pt, at::Tensor& gt, int64_t r, int64_t cl) {
    pt = carve(p_, off, r, cl);
    gt = carve(g_, goff, r, cl);
  };
  both(W1_, gW1_, h_, da_);
  both(b1_, gb1_, h_, 0);
  both(W4_, gW4_, d1_, h_);
  both(b4_, gb4_, d1_, 0);
  trained_ = c_.joint ? total : off;
  both(W2_, gW2_, da_, h_);
  both(b2_, gb2_, da_, 0);
  both(W3_, gW3_, h_, d1_);
  both(b3_, gb3_, h_, 0);
  // layers: enc_a (W1, b1), dec_a (W2, b2), enc_w (W3, b3), dec_w (W4, b4).
  W1_.copy_(layers[0]); b1_.copy_(layers[1]);
  W2_.copy_(layers[2]); b2_.copy_(layers[3]);
  W3_.copy_(layers[4]); b3_.copy_(layers[5]);
  W4_.copy_(layers[6]); b4_.copy_(layers[7]);
  const int64_t B = c_.max_batch, R = c_.joint ? 2 * B : B;
  ab_ = at::zeros({B, da_}, f);
  wb_ = at::zeros({B, d1_}, f);
  mb_ = at::zeros({B}, f);
  z_ = at::zeros({R, h_}, f);
  dz_ = at::zeros({R, h_}, f);
  outa_ = at::zeros({R, da_}, f);
  outw_ = at::zeros({R, d1_}, f);
  ga_ = at::zeros({R, da_}, f);
  gw_ = at::zeros({R, d1_}, f);
  if (c_.subreg_weight > 0) {
    xq_ = at::zeros({B, q_.size(1)}, f);
    gxq_ = at::zeros({B, q_.size(1)}, f);
    rq_ = at::zeros({B, d1_}, f);
  }
  views_.resize(B + 1);
}

FusedInjector::Views& FusedInjector::views(int64_t b) {
  Views& v = views_[b];
  if (v.ab.defined()) return v;
  const int64_t r = c_.joint ? 2 * b : b;
  v.ab = ab_.narrow(0, 0, b);
  v.wb = wb_.narrow(0, 0, b);
  v.z = z_.narrow(0, 0, r);
  v.za = z_.narrow(0, 0, b);
  v.dz = dz_.narrow(0, 0, r);
  v.dza = dz_.narrow(0, 0, b);
  v.outw = outw_.narrow(0, 0, r);
  v.waw = outw_.narrow(0, 0, b);
  v.gw = gw_.narrow(0, 0, r);
  v.gaw = gw_.narrow(0, 0, b);
  if (c_.joint) {
    v.zw = z_.narrow(0, b, b);
    v.dzw = dz_.narrow(0, b, b);
    v.outa = outa_.narrow(0, 0, r);
    v.ga = ga_.narrow(0, 0, r);
  }
  if (c_.subreg_weight > 0) {
    v.xq = xq_.narrow(0, 0, b);
    v.gxq = gxq_.narrow(0, 0, b);
    v.rq = rq_.narrow(0, 0, b);
  }
  return v;
}

// The loss of the batch in the first b rows of the buffers, and its gradient with respect to the
// decoder outputs (ga_, gw_), as Injector's autograd path defines them (joint_losses, Sub.Reg.).
double FusedInjector::loss_and_grad(int64_t b) {
  Views& vw = views(b);
  const float* a = fp(ab_);
  const float* w = fp(wb_);
  const float* m = fp(mb_);
  double msum = 0;
  for (int64_t i = 0; i < b; ++i) msum += m[i];
  const double denom = std::max(msum, 1.0);
  const float* ow = fp(outw_);
  float* gw = fp(gw_);
  double loss = 0;
  if (c_.joint) {
    const float* oa = fp(outa_);
    float* ga = fp(ga_);
    double aa = 0, wa = 0, ww = 0, aw = 0;
    for (int64_t i = 0; i < b; ++i) {
      const float ci = float(m[i] / denom);
      aa += row_loss_grad(oa + i * da_, a + i * da_, da_, c_.cosine, float(c_.w_aa / b),
                          ga + i * da_);
      wa += m[i] * row_loss_grad(oa + (b + i) * da_, a + i * da_, da_, c_.cosine,
                                 float(c_.w_wa) * ci, ga + (b + i) * da_);
      aw += m[i] * row_loss_grad(ow + i * d1_, w + i * d1_, d1_, c_.cosine, float(c_.w_aw) * ci,
                                 gw + i * d1_);
      ww += m[i] * row_loss_grad(ow + (b + i) * d1_, w + i * d1_, d1_, c_.cosine,
                                 float(c_.w_ww) * ci, gw + (b + i) * d1_);
    }
    loss = c_.w_aa * (aa / b) + c_.w_wa * (wa / denom) + c_.w_ww * (ww / denom) +
           c_.w_aw * (aw / denom);
  } else {
    double aw = 0;
    for (int64_t i = 0; i < b; ++i)
      aw += m[i] * row_loss_grad(ow + i * d1_, w + i * d1_, d1_, c_.cosine,
                                 float(c_.w_aw * m[i] / denom), gw + i * d1_);
    loss = c_.w_aw * (aw / denom);
  }
  if (c_.subreg_weight > 0) {
    // R = X - (X Q) Q^T for X = w_aw. Joint: sw * ||R||_F over the batch; single MLP:
    // sw * mean_i ||R_i||. dL/dX = G - (G Q) Q^T with G = dL/dR.
    at::mm_out(vw.xq, vw.waw, q_);
    at::mm_out(vw.rq, vw.xq, q_.t());
    float* r = fp(rq_);
    for (int64_t k = 0; k < b * d1_; ++k) r[k] = ow[k] - r[k];
    auto norm = [&](int64_t lo, int64_t hi) {
      double s = 0;
      for (int64_t k = lo; k < hi; ++k) s += double(r[k]) * r[k];
      return std::sqrt(s);
    };
    if (c_.joint) {
      const double nr = norm(0, b * d1_);
      loss += c_.subreg_weight * nr;
      const double k = nr > 0 ? c_.subreg_weight / nr : 0.0;
      for (int64_t e = 0; e < b * d1_; ++e) r[e] = float(k * r[e]);
    } else {
      double sum = 0;
      for (int64_t i = 0; i < b; ++i) {
        const double nr = norm(i * d1_, (i + 1) * d1_);
        sum += nr;
        const double k = nr > 0 ? c_.subreg_weight / (double(b) * nr) : 0.0;
        for (int64_t d = 0; d < d1_; ++d) r[i * d1_ + d] = float(k * r[i * d1_ + d]);
      }
      loss += c_.subreg_weight * sum / double(b);
    }
    at::mm_out(vw.gxq, vw.rq, q_);
    for (int64_t e = 0; e < b * d1_; ++e) gw[e] += r[e];
    vw.gaw.addmm_(vw.gxq, q_.t(), 1.0, -1.0);
  }
  return double(float(loss));
}

double FusedInjector::step(const at::Tensor& idx_t) {
  const int64_t b = idx_t.size(0);
  if (b < 1 || b > c_.max_batch) throw Error("internal: FusedInjector batch size out of range");
  auto idx_c = idx_t.contiguous();
  const int64_t* idx = idx_c.data_ptr<int64_t>();
  Views& v = views(b);
  gather_rows(a_, idx, b, ab_);
  gather_rows(w_, idx, b, wb_);
  for (int64_t i = 0; i < b; ++i) fp(mb_)[i] = fp(mask_)[idx[i]];

  // Forward. Rows [0, b) of z are relu(enc_a(a)), rows [b, 2b) relu(enc_w(w)); each decoder
  // maps both halves in one GEMM.
  at::addmm_out(v.za, b1_, v.ab, W1_.t());
  if (c_.joint) at::addmm_out(v.zw, b3_, v.wb, W3_.t());
  float* z = fp(z_);
  const int64_t zr = c_.joint ? 2 * b : b;
  for (int64_t k = 0; k < zr * h_; ++k) z[k] = std::max(z[k], 0.0f);
  at::addmm_out(v.outw, b4_, v.z, W4_.t());
  if (c_.joint) at::addmm_out(v.outa, b2_, v.z, W2_.t());

  const double loss = loss_and_grad(b);

  // Backward: decoder weights, then the latent gradient through relu, then the encoders.
  col_sum(fp(gw_), zr, d1_, fp(gb4_));
  at::mm_out(gW4_, v.gw.t(), v.z);
  at::mm_out(v.dz, v.gw, W4_);
  if (c_.joint) {
    col_sum(fp(ga_), zr, da_, fp(gb2_));
    at::mm_out(gW2_, v.ga.t(), v.z);
    v.dz.addmm_(v.ga, W2_);
  }
  float* dz = fp(dz_);
  for (int64_t k = 0; k < zr * h_; ++k)
    if (!(z[k] > 0)) dz[k] = 0.0f;
  col_sum(dz, b, h_, fp(gb1_));
  at::mm_out(gW1_, v.dza.t(), v.ab);
  if (c_.joint) {
    col_sum(dz + b * h_, b, h_, fp(gb3_));
    at::mm_out(gW3_, v.dzw.t(), v.wb);
  }
  adam_step(fp(p_), fp(g_), fp(m_), fp(v_), trained_, ++step_, c_.lr, 0.9, 0.999, 1e-8);
  return loss;
}

at::Tensor FusedInjector::predict(const at::Tensor& a) const {
  auto z = at::relu(at::addmm(b1_, a.to(at::kFloat), W1_.t()));
  return at::addmm(b4_, z, W4_.t());
}

FusedSoftmax::FusedSoftmax(const at::Tensor& x, const at::Tensor& y, const at::Tensor& w,
                           const at::Tensor& b, double lr, int64_t max_batch)
    : lr_(lr) {
  x_ = x.to(at::kFloat).contiguous();
  y_ = y.to(at::kLong).contiguous();
  const int64_t S = w.size(0), D = w.size(1);
  auto f = at::TensorOptions().dtype(at::kFloat);
  p_ = at::zeros({S * D + S}, f);
  g_ = at::zeros({S * D + S}, f);
  m_ = at::zeros({S * D + S}, f);
  v_ = at::zeros({S * D + S}, f);
  int64_t off = 0, goff = 0;
  w_ = carve(p_, off, S, D);
  b_ = carve(p_, off, S, 0);
  gw_ = carve(g_, goff, S, D);
  gb_ = carve(g_, goff, S, 0);
  w_.copy_(w);
  b_.copy_(b);
  xb_ = at::zeros({max_batch, D}, f);
  logits_ = at::zeros({max_batch, S}, f);
}

void FusedSoftmax::step(const at::Tensor& idx_t) {
  const int64_t b = idx_t.size(0), S = w_.size(0);
  if (b < 1 || b > xb_.size(0)) throw Error("internal: FusedSoftmax batch size out of range");
  auto idx_c = idx_t.contiguous();
  const int64_t* idx = idx_c.data_ptr<int64_t>();
  gather_rows(x_, idx, b, xb_);
  auto xb = xb_.narrow(0, 0, b), lg = logits_.narrow(0, 0, b);
  at::addmm_out(lg, b_, xb, w_.t());
  // d(mean_i -log softmax(l_i)[y_i]) / dl_ij = (softmax(l_i)_j - [j == y_i]) / b.
  float* l = fp(logits_);
  const int64_t* y = y_.data_ptr<int64_t>();
  const float inv = 1.0f / float(b);
  for (int64_t i = 0; i < b; ++i) {
    float* r = l + i * S;
    const float mx = *std::max_element(r, r + S);
    double s = 0;
    for (int64_t j = 0; j < S; ++j) s += std::exp(double(r[j]) - mx);
    const double ls = std::log(s);
    for (int64_t j = 0; j < S; ++j) r[j] = float(std::exp(double(r[j]) - mx - ls)) * inv;
    r[y[idx[i]]] -= inv;
  }
  col_sum(l, b, S, fp(gb_));
  at::mm_out(gw_, lg.t(), xb);
  adam_step(fp(p_), fp(g_), fp(m_), fp(v_), p_.numel(), ++step_, lr_, 0.9, 0.999, 1e-8);
}

}  // namespace vlb::icis
