#pragma once
// Visual composition (contrastive heads on frozen embeddings) and its baseline:
// methods/composition/, docs/composition.md.
//
// Both methods are Task::kImageText: predict() returns aux["image_emb"] [n, E] (evaluated images)
// and aux["text_emb"] [T, E] (every dataset text), L2-normalized, and dense scores [n, T] only when
// n * T <= dense_scores_max (the composition metrics read the embeddings).
#include <ATen/core/Tensor.h>

#include <string>

#include "vlb/methods/method.h"

namespace vlb {

namespace composition {

/// Symmetric softmax InfoNCE (CLIP), NegCLIP form. img [B, E], txt [B + B', E], both normalized;
/// rows B.. of txt are extra negative captions: image->text CE over all B + B' columns, text->image
/// CE over the B true captions only. logits = scale * img txt^T. Returns the mean of the two.
at::Tensor softmax_contrastive_loss(const at::Tensor& img, const at::Tensor& txt, const at::Tensor& scale);

/// Sigmoid (SigLIP) loss: logits = scale * img txt^T + bias, z = +1 on the diagonal of the first B
/// columns and -1 elsewhere (extra negative columns are extra z = -1 pairs);
/// L = (1/B) sum_ij -log sigmoid(z_ij logits_ij).
at::Tensor sigmoid_contrastive_loss(const at::Tensor& img, const at::Tensor& txt, const at::Tensor& scale,
                                    const at::Tensor& bias);

/// The text embeddings a method reads: "" = /texts/features, else /texts/towers/<name>.
/// ConfigError naming the available towers when absent.
at::Tensor text_tower(const Dataset& ds, const std::string& name);

}  // namespace composition
}  // namespace vlb
