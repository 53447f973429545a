// SARL's semantic decoupling and losses (vlb/methods/sarl.h).
#include "vlb/methods/sarl.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "vlb/core/error.h"

namespace vlb::sarl {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Note [SARL: tiled decoupling]: the lineage's code builds the [B, P, C, d] product at once
// (SemanticDecoupling.py). Here forward and backward loop over tiles of categories and backward
// recomputes tanh, trading one extra tanh pass for memory B·P·tile·d instead of B·P·C·d.
struct DecoupleScoresFn : public torch::autograd::Function<DecoupleScoresFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& Uf, const at::Tensor& Vx,
                            const at::Tensor& w, int64_t tile) {
    ctx->save_for_backward({Uf, Vx, w});
    ctx->saved_data["tile"] = tile;
    const int64_t B = Uf.size(0), P = Uf.size(1), C = Vx.size(0);
    at::Tensor E = torch::empty({B, P, C}, Uf.options());
    at::Tensor u = Uf.unsqueeze(2);  // [B, P, 1, d]
    for (int64_t c0 = 0; c0 < C; c0 += tile) {
      const int64_t c1 = std::min(C, c0 + tile);
      at::Tensor T = torch::tanh(u * Vx.slice(0, c0, c1));  // [B, P, t, d]
      E.slice(2, c0, c1).copy_(torch::matmul(T, w));
    }
    return E;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &Uf = saved[0], &Vx = saved[1], &w = saved[2];
    const int64_t tile = ctx->saved_data["tile"].toInt();
    at::Tensor gE = grads[0];
    const int64_t C = Vx.size(0);
    at::Tensor gU = torch::zeros_like(Uf), gV = torch::zeros_like(Vx), gw = torch::zeros_like(w);
    at::Tensor u = Uf.unsqueeze(2);
    for (int64_t c0 = 0; c0 < C; c0 += tile) {
      const int64_t c1 = std::min(C, c0 + tile);
      at::Tensor v = Vx.slice(0, c0, c1);                 // [t, d]
      at::Tensor T = torch::tanh(u * v);                  // [B, P, t, d]
      at::Tensor g = gE.slice(2, c0, c1).unsqueeze(-1);   // [B, P, t, 1]
      gw += (g * T).sum(at::IntArrayRef{0, 1, 2});
      at::Tensor G = g * w * (1 - T * T);                 // d e / d (u ⊙ v)
      gU += (G * v).sum(2);
      gV.slice(0, c0, c1).copy_((G * u).sum(at::IntArrayRef{0, 1}));
    }
    return {gU, gV, gw, at::Tensor()};
  }
};

void need(bool ok, const std::string& msg) {
  if (!ok) throw Error("sarl: " + msg);
}

}  // namespace

at::Tensor decouple_scores(const at::Tensor& Uf, const at::Tensor& Vx, const at::Tensor& w, int64_t tile) {
  need(Uf.dim() == 3 && Vx.dim() == 2 && w.dim() == 1 && Uf.size(2) == Vx.size(1) &&
           w.size(0) == Vx.size(1),
       fmt::format("decouple_scores: Uf [B, P, d], Vx [C, d], w [d] expected, got {}, {}, {}",
                   c10::str(Uf.sizes()), c10::str(Vx.sizes()), c10::str(w.sizes())));
  need(tile >= 1, "tile must be >= 1");
  return DecoupleScoresFn::apply(Uf, Vx, w, tile);
}

at::Tensor decouple_scores_naive(const at::Tensor& Uf, const at::Tensor& Vx, const at::Tensor& w) {
  return torch::matmul(torch::tanh(Uf.unsqueeze(2) * Vx), w);
}

Decoupled semantic_decouple(const at::Tensor& F, const at::Tensor& X, const at::Tensor& U,
                            const at::Tensor& V, const at::Tensor& w, int64_t tile) {
  need(F.dim() == 3 && X.dim() == 2 && F.size(2) == U.size(0) && X.size(1) == V.size(0),
       fmt::format("semantic_decouple: F [B, P, C_f] {} / U {} / X [C, d_w] {} / V {} do not fit",
                   c10::str(F.sizes()), c10::str(U.sizes()), c10::str(X.sizes()), c10::str(V.sizes())));
  at::Tensor E = decouple_scores(torch::matmul(F, U), torch::matmul(X, V), w, tile);  // [B, P, C]
  at::Tensor A = torch::softmax(E, 1);
  return {torch::matmul(A.transpose(1, 2), F), A};
}

at::Tensor partial_bce(const at::Tensor& logits, const at::Tensor& targets) {
  need(logits.sizes() == targets.sizes(), "partial_bce: logits and targets differ in shape");
  at::Tensor known = targets.ne(0).to(logits.dtype());
  at::Tensor y = targets.gt(0).to(logits.dtype());
  at::Tensor l = torch::binary_cross_entropy_with_logits(logits, y, {}, {}, at::Reduction::None);
  return (l * known).sum() / known.sum().clamp_min(1);
}

at::Tensor asymmetric_loss(const at::Tensor& logits, const at::Tensor& targets, const AslOptions& o) {
  need(logits.sizes() == targets.sizes(), "asymmetric_loss: logits and targets differ in shape");
  need(o.reduction == "sum" || o.reduction == "mean",
       "asymmetric_loss: reduction must be sum or mean, got '" + o.reduction + "'");
  at::Tensor pos = targets.gt(0).to(logits.dtype()), neg = targets.lt(0).to(logits.dtype());
  at::Tensor p = torch::sigmoid(logits);
  at::Tensor qm = (1 - p + o.clip).clamp_max(1);  // clipped probability of "absent"
  at::Tensor fp = (1 - p).pow(o.gamma_pos), fn = (1 - qm).pow(o.gamma_neg);
  if (o.detach_focus) {
    fp = fp.detach();
    fn = fn.detach();
  }
  at::Tensor l = pos * fp * torch::log(p.clamp_min(o.eps)) + neg * fn * torch::log(qm.clamp_min(o.eps));
  at::Tensor s = -l.sum();
  return o.reduction == "sum" ? s : s / (pos + neg).sum().clamp_min(1);
}

}  // namespace vlb::sarl
