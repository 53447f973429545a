#pragma once
// SARL (multi-label recognition with partial labels) and its baselines: sarl, global_linear,
// global_zeroshot, sarl_no_decouple, sarl_shared_text (methods/sarl/sarl.cpp, docs/sarl.md).
// Its pieces as plain functions (methods/sarl/blocks.cpp), shared by the methods, the golden
// tests and the benchmark; docs/sarl.md explains each choice.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "vlb/methods/method.h"

namespace vlb::sarl {

/// Attention scores of the low-rank bilinear semantic decoupling with fc3·fc4 folded into one
/// vector: E[b, p, c] = sum_k tanh(Uf[b, p, k] * Vx[c, k]) * w[k].
/// Uf [B, P, d] = F·U, Vx [C, d] = X·V, w [d]. Tiled over `tile` categories at a time and
/// recomputed tile by tile in backward (a custom autograd function), so the [B, P, C, d] tensor is
/// never held: peak extra memory is B·P·tile·d floats.
at::Tensor decouple_scores(const at::Tensor& Uf, const at::Tensor& Vx, const at::Tensor& w,
                           int64_t tile = 4);
/// The same scores by plain autograd over the full [B, P, C, d] tensor (tests only).
at::Tensor decouple_scores_naive(const at::Tensor& Uf, const at::Tensor& Vx, const at::Tensor& w);

struct Decoupled {
  at::Tensor features;   // [B, C, C_f] category-specific features s_{b,c}
  at::Tensor attention;  // [B, P, C] softmax over the P = H·W positions per (b, c)
};
/// u = Uᵀf, v = Vᵀx, e = wᵀ tanh(u ⊙ v), a = softmax over positions, s = Σ a·f.
/// F [B, P, C_f], X [C, d_w], U [C_f, d], V [d_w, d], w [d].
Decoupled semantic_decouple(const at::Tensor& F, const at::Tensor& X, const at::Tensor& U,
                            const at::Tensor& V, const at::Tensor& w, int64_t tile = 4);

/// Partial BCE (HCP-MLR-PL): mean over the known (≠ 0) entries of `targets` [B, C] int8; 0 when
/// none is known (the lineage's fallback averages zero-masked entries).
at::Tensor partial_bce(const at::Tensor& logits, const at::Tensor& targets);

struct AslOptions {
  double gamma_neg = 2, gamma_pos = 1, clip = 0.05, eps = 1e-6;
  std::string reduction = "sum";  // sum (DualCoOp) | mean over known entries
  bool detach_focus = true;       // focusing weights carry no gradient (DualCoOp)
};
/// Asymmetric loss over known entries (DualCoOp utils/asymmetric_loss.py, sigmoid form):
/// positives -(1-p)^γ+ log p, negatives -(1-q_m)^γ− log q_m with q = 1-p, q_m = min(q+clip, 1).
at::Tensor asymmetric_loss(const at::Tensor& logits, const at::Tensor& targets, const AslOptions& o);

}  // namespace vlb::sarl
