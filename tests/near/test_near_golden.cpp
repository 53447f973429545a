// Golden tests for NeaR's pieces: the assignment solver (against brute force), the cACC / NMI /
// ARI / sACC metrics (hand-worked values), the 1-D GMM EM, canonicalization, candidate sets and
// the label simulator's calibration.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include "vlb/methods/near.h"
#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/synth_noisy.h"
#include "vlb/experiments/builtins.h"
#include "vlb/metrics/hungarian.h"
#include "vlb/metrics/openvocab.h"

namespace {

using vlb::linear_sum_assignment;

// Best total over every injective map of the smaller side into the larger (brute force).
double brute_force(const std::vector<double>& c, int64_t r, int64_t k, bool maximize) {
  const bool tr = r > k;
  const int64_t n = tr ? k : r, m = tr ? r : k;
  std::vector<int64_t> cols(m);
  std::iota(cols.begin(), cols.end(), 0);
  double best = maximize ? -1e300 : 1e300;
  do {  // permutations of m columns; the first n are the assignment (duplicates are harmless)
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += tr ? c[cols[i] * k + i] : c[i * k + cols[i]];
    best = maximize ? std::max(best, s) : std::min(best, s);
  } while (std::next_permutation(cols.begin(), cols.end()));
  return best;
}

double total(const std::vector<double>& c, int64_t k, const std::vector<int64_t>& a) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] >= 0) s += c[i * k + a[i]];
  return s;
}

TEST(Hungarian, ScipyDocExample) {
  // scipy.optimize.linear_sum_assignment's documented example: rows 0,1,2 -> cols 1,0,2, cost 5.
  std::vector<double> c = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  auto a = linear_sum_assignment(c, 3, 3);
  EXPECT_EQ(a, (std::vector<int64_t>{1, 0, 2}));
  EXPECT_DOUBLE_EQ(total(c, 3, a), 5.0);
}

TEST(Hungarian, MatchesBruteForceOnRandomSquareAndRectangular) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> small(0, 4);  // many ties
  std::uniform_real_distribution<double> real(-3, 3);
  int checked = 0;
  for (int64_t r = 1; r <= 6; ++r)
    for (int64_t k = 1; k <= 6; ++k)
      for (int trial = 0; trial < 6; ++trial)
        for (bool maximize : {false, true}) {
          std::vector<double> c(r * k);
          for (auto& v : c) v = trial % 2 ? real(rng) : small(rng);
          auto a = linear_sum_assignment(c, r, k, maximize);
          ASSERT_EQ(static_cast<int64_t>(a.size()), r);
          // A valid matching of min(r, k) pairs, each column at most once.
          std::vector<int> used(k, 0);
          int64_t matched = 0;
          for (auto j : a)
            if (j >= 0) {
              ASSERT_LT(j, k);
              ASSERT_EQ(used[j]++, 0);
              ++matched;
            }
          EXPECT_EQ(matched, std::min(r, k));
          EXPECT_NEAR(total(c, k, a), brute_force(c, r, k, maximize), 1e-9)
              << r << "x" << k << " trial " << trial << " max " << maximize;
          ++checked;
        }
  EXPECT_EQ(checked, 6 * 6 * 6 * 2);
}

TEST(Hungarian, RejectsBadInput) {
  EXPECT_THROW(linear_sum_assignment({1, 2, 3}, 2, 2), vlb::Error);
  EXPECT_THROW(linear_sum_assignment({1, NAN, 3, 4}, 2, 2), vlb::Error);
  EXPECT_TRUE(linear_sum_assignment({}, 0, 3).empty());
}

TEST(OpenVocabMetrics, ClusteringAccuracyHandWorked) {
  // W: p0 {t0: 2}, p1 {t0: 1, t1: 1}, p2 {t1: 2}: best one-to-one p0->t0, p2->t1 = 4 of 6.
  EXPECT_DOUBLE_EQ(vlb::clustering_accuracy({0, 0, 1, 1, 2, 2}, {0, 0, 0, 1, 1, 1}), 4.0 / 6);
  // Any relabelling of a perfect clustering scores 1; ids need not be small or contiguous.
  EXPECT_DOUBLE_EQ(vlb::clustering_accuracy({70, 70, 3, 3, 9}, {0, 0, 1, 1, 2}), 1.0);
  // Everything in one cluster: only the largest class counts.
  EXPECT_DOUBLE_EQ(vlb::clustering_accuracy({5, 5, 5, 5, 5}, {0, 1, 1, 1, 2}), 3.0 / 5);
  // More predicted clusters than classes: extra clusters score 0 (one-to-one).
  EXPECT_DOUBLE_EQ(vlb::clustering_accuracy({0, 1, 2, 3}, {0, 0, 0, 0}), 1.0 / 4);
}

TEST(OpenVocabMetrics, NmiAndAriHandWorked) {
  // pred [0,0,1,1] vs truth [0,0,1,2]: MI = H(pred) = ln 2, H(truth) = 1.5 ln 2, so
  // NMI = ln2 / (1.25 ln2) = 0.8. ARI: index 1, sums 2 and 1, expected 2*1/6, max 1.5 -> 4/7
  // (sklearn's documented adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.57).
  EXPECT_NEAR(vlb::normalized_mutual_info({0, 0, 1, 1}, {0, 0, 1, 2}), 0.8, 1e-12);
  EXPECT_NEAR(vlb::adjusted_rand_index({0, 0, 1, 1}, {0, 0, 1, 2}), 4.0 / 7, 1e-12);
  EXPECT_DOUBLE_EQ(vlb::adjusted_rand_index({1, 1, 0, 0}, {0, 0, 1, 1}), 1.0);
  EXPECT_NEAR(vlb::normalized_mutual_info({1, 1, 0, 0}, {0, 0, 1, 1}), 1.0, 1e-12);
  // Independent labellings: MI = 0, ARI = -0.5 here (index 0, sums 2, 2 over C(4,2)=6:
  // expected 2/3, max 2 -> (0 - 2/3) / (2 - 2/3)).
  EXPECT_NEAR(vlb::normalized_mutual_info({0, 0, 1, 1}, {0, 1, 0, 1}), 0.0, 1e-12);
  EXPECT_NEAR(vlb::adjusted_rand_index({0, 0, 1, 1}, {0, 1, 0, 1}), -0.5, 1e-12);
}

TEST(OpenVocabMetrics, AgainstScipyReference) {
  // FineR's cACC (square Dm x Dm count matrix, scipy linear_sum_assignment on max - W), NMI from
  // scipy.stats.entropy, ARI from scipy.special.comb: an independent implementation.
  std::string py = vlb::test::system_python_with("numpy, scipy");
  if (py.empty()) GTEST_SKIP() << "system python3 with numpy + scipy not found";
  vlb::test::TempDir dir;
  std::mt19937 rng(3);
  std::string data;
  std::vector<std::vector<int64_t>> preds, truths;
  for (int t = 0; t < 5; ++t) {
    const int n = 40 + 30 * t, kp = 3 + 4 * t, kt = 4 + 2 * t;
    std::vector<int64_t> p(n), y(n);
    for (int i = 0; i < n; ++i) {
      y[i] = static_cast<int64_t>(rng() % kt);
      // Correlated with the truth so all metrics are away from 0.
      p[i] = rng() % 3 ? (y[i] * 7) % kp : static_cast<int64_t>(rng() % kp);
    }
    for (auto* v : {&p, &y}) {
      for (size_t i = 0; i < v->size(); ++i) data += (i ? " " : "") + std::to_string((*v)[i]);
      data += "\n";
    }
    preds.push_back(p);
    truths.push_back(y);
  }
  vlb::test::write_text(dir / "labels.txt", data);
  vlb::test::write_text(dir / "ref.py", R"(
import sys, numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import entropy
from scipy.special import comb
lines = open(sys.argv[1]).read().split('\n')
for k in range(0, len([l for l in lines if l.strip()]), 2):
    p = np.array(lines[k].split(), dtype=np.int64); y = np.array(lines[k+1].split(), dtype=np.int64)
    D = max(p.max(), y.max()) + 1
    w = np.zeros((D, D), dtype=np.int64)
    for i in range(p.size): w[p[i], y[i]] += 1
    r, c = linear_sum_assignment(w.max() - w)
    cacc = w[r, c].sum() / p.size
    cont = w[np.ix_(w.sum(1) > 0, w.sum(0) > 0)].astype(float)
    n = cont.sum(); pij = cont / n; pi = pij.sum(1); pj = pij.sum(0)
    nz = pij > 0
    mi = (pij[nz] * np.log(pij[nz] / np.outer(pi, pj)[nz])).sum()
    nmi = mi / ((entropy(pi) + entropy(pj)) / 2)
    idx = comb(cont, 2).sum(); a = comb(cont.sum(1), 2).sum(); b = comb(cont.sum(0), 2).sum()
    exp = a * b / comb(n, 2); ari = (idx - exp) / ((a + b) / 2 - exp)
    print('%.12f %.12f %.12f' % (cacc, nmi, ari))
)");
  auto r = vlb::test::run_command(py + " " + (dir / "ref.py") + " " + (dir / "labels.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  for (size_t t = 0; t < preds.size(); ++t) {
    double cacc, nmi, ari;
    ASSERT_TRUE(in >> cacc >> nmi >> ari) << r.output;
    EXPECT_NEAR(vlb::clustering_accuracy(preds[t], truths[t]), cacc, 1e-9) << t;
    EXPECT_NEAR(vlb::normalized_mutual_info(preds[t], truths[t]), nmi, 1e-9) << t;
    EXPECT_NEAR(vlb::adjusted_rand_index(preds[t], truths[t]), ari, 1e-9) << t;
    EXPECT_GT(cacc, 0.15);  // the case is not trivial (chance is ~1/kt)
  }
}

// A 3-class dataset with 2 label texts, a name table and hand-computable cosines.
vlb::Dataset tiny_dataset() {
  vlb::Dataset ds;
  ds.class_names = {"red finch", "blue finch", "grey finch"};
  ds.features = torch::eye(3);
  ds.label = torch::tensor({0, 1, 2}, torch::kLong);
  ds.splits["test"] = torch::arange(3);
  // Class-name table: unit vectors; "grey finch" has no embedding (NaN row).
  ds.descriptors["name_embedding"] =
      torch::tensor({{1.f, 0.f}, {0.f, 1.f}, {NAN, NAN}});
  ds.texts.strings = {"Red-Finch", "finch"};
  ds.texts.features = torch::tensor({{2.f, 0.f}, {1.f, 1.f}});  // unnormalized on purpose
  ds.texts.image = torch::tensor({0, 1}, torch::kLong);
  ds.texts.cls = torch::full({2}, -1, torch::kLong);
  ds.texts.source = torch::ones({2}, torch::kChar);
  return ds;
}

std::map<std::string, double> run_metric(const std::string& name, const vlb::Prediction& p,
                                         const vlb::Dataset& ds, const at::Tensor& y) {
  const auto& reg = vlb::builtins().metrics;
  auto m = reg.create(name, reg.get(name).schema.defaults());
  m->reset();
  // Two batches: streaming must equal one batch.
  for (int64_t s : {0, 2}) {
    const int64_t n = s == 0 ? 2 : y.size(0) - 2;
    vlb::Prediction b;
    b.scores = p.scores.narrow(0, s, n);
    for (const auto& [k, v] : p.aux) b.aux[k] = v.narrow(0, s, n);
    m->update(b, vlb::Targets{y.narrow(0, s, n), {}, ds.num_classes(), &ds, {}});
  }
  std::map<std::string, double> out;
  for (const auto& v : m->compute()) out[v.name] = v.value;
  return out;
}

TEST(OpenVocabMetrics, SaccAndExactThroughTheRegistry) {
  auto ds = tiny_dataset();
  // Rows: truth 0 predicted "Red-Finch" (cos 1), truth 1 predicted "finch" (cos 1/sqrt2),
  // truth 2 predicted "Red-Finch" (true name has no embedding: not covered), truth 0 "finch"
  // (cos 1/sqrt2).
  vlb::Prediction p;
  p.scores = torch::zeros({4, 3});
  p.aux["pred_text"] = torch::tensor({0, 1, 0, 1}, torch::kLong);
  auto y = torch::tensor({0, 1, 2, 0}, torch::kLong);
  auto s = run_metric("sacc", p, ds, y);
  EXPECT_NEAR(s.at("ov/sacc"), (1 + 2 / std::sqrt(2.0)) / 3, 1e-6);
  EXPECT_DOUBLE_EQ(s.at("ov/sacc_coverage"), 0.75);
  // Exact after canonicalization: only row 0 ("Red-Finch" == "red finch").
  EXPECT_DOUBLE_EQ(run_metric("name_exact", p, ds, y).at("ov/exact"), 0.25);
  // cACC: clusters {text 0: rows 0, 2 (classes 0, 2)}, {text 1: rows 1, 3 (1, 0)} -> 2 of 4.
  EXPECT_DOUBLE_EQ(run_metric("cacc", p, ds, y).at("ov/cacc"), 0.5);
  // No pred_text: argmax of scores names a class (classification methods).
  vlb::Prediction q;
  q.scores = torch::tensor({{1.f, 0.f, 0.f}, {0.f, 1.f, 0.f}, {0.f, 1.f, 0.f}, {1.f, 0.f, 0.f}});
  EXPECT_DOUBLE_EQ(run_metric("name_exact", q, ds, y).at("ov/exact"), 0.75);
  EXPECT_NEAR(run_metric("sacc", q, ds, y).at("ov/sacc"), 1.0, 1e-6);
  // A file without the name table: a clear DataError naming the HDF5 path.
  ds.descriptors.clear();
  try {
    run_metric("sacc", p, ds, y);
    FAIL() << "expected DataError";
  } catch (const vlb::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/classes/descriptors/name_embedding"), std::string::npos) << e.what();
  }
}

// ---- GMM --------------------------------------------------------------------------------------

using vlb::near::fit_gmm_1d;
using vlb::near::GmmOptions;

TEST(Gmm, TwoPointMassesAreRecoveredWithTheVarianceFloor) {
  // {0, 0, 1, 1}: the median split gives means 0 and 1 and zero spread, so each variance is
  // exactly the floor; EM cannot improve: converged at the second E-step.
  GmmOptions o;
  o.reg_covar = 1e-3;
  o.tol = 1e-9;
  o.max_iter = 50;
  auto g = fit_gmm_1d({0, 1, 0, 1}, o);
  EXPECT_DOUBLE_EQ(g.mean[0], 0.0);
  EXPECT_DOUBLE_EQ(g.mean[1], 1.0);
  EXPECT_NEAR(g.var[0], 1e-3, 1e-12);
  EXPECT_NEAR(g.var[1], 1e-3, 1e-12);
  EXPECT_NEAR(g.weight[0], 0.5, 1e-12);
  EXPECT_TRUE(g.converged);
  EXPECT_EQ(g.iterations, 2);
  // Log-likelihood of a point at its own mean: log(0.5) - 0.5 log(2 pi 1e-3) (the other
  // component contributes exp(-500)).
  EXPECT_NEAR(g.mean_log_likelihood, std::log(0.5) - 0.5 * std::log(2 * M_PI * 1e-3), 1e-9);
  auto post = vlb::near::gmm_posterior(g, {0.0, 1.0, 0.5}, 0);
  EXPECT_NEAR(post[0], 1.0, 1e-12);
  EXPECT_NEAR(post[1], 0.0, 1e-12);
  EXPECT_NEAR(post[2], 0.5, 1e-12);  // equidistant, equal weights and variances
}

TEST(Gmm, UnbalancedClustersAndMonotoneLikelihood) {
  std::mt19937 rng(1);
  std::normal_distribution<double> a(0.2, 0.05), b(0.8, 0.1);
  std::vector<double> x;
  for (int i = 0; i < 90; ++i) x.push_back(a(rng));
  for (int i = 0; i < 10; ++i) x.push_back(b(rng));
  GmmOptions o;
  o.tol = 0;  // run every iteration
  double prev = -1e300;
  for (int it = 1; it <= 30; ++it) {
    o.max_iter = it;
    auto g = fit_gmm_1d(x, o);
    // EM never decreases the likelihood (M-step then E-step; the floor is a fixed penalty).
    EXPECT_GE(g.mean_log_likelihood, prev - 1e-12) << it;
    prev = g.mean_log_likelihood;
  }
  o.max_iter = 200;
  o.tol = 1e-10;
  auto g = fit_gmm_1d(x, o);
  EXPECT_TRUE(g.converged);
  EXPECT_NEAR(g.mean[0], 0.2, 0.03);
  EXPECT_NEAR(g.mean[1], 0.8, 0.08);
  EXPECT_NEAR(g.weight[0], 0.9, 0.03);
  EXPECT_NEAR(std::sqrt(g.var[0] - o.reg_covar), 0.05, 0.02);
}

TEST(Gmm, CleanProbabilityPicksTheLowLossComponent) {
  std::vector<double> loss = {0.1, 0.12, 0.09, 0.11, 3.0, 3.2, 0.1, 2.9};
  auto p = vlb::near::clean_probability(loss);
  for (size_t i = 0; i < loss.size(); ++i) {
    if (loss[i] < 1) EXPECT_GT(p[i], 0.99) << i;
    else EXPECT_LT(p[i], 0.01) << i;
  }
  // Nothing to split: all clean.
  for (double v : vlb::near::clean_probability({0.5, 0.5, 0.5})) EXPECT_EQ(v, 1.0);
  EXPECT_THROW(fit_gmm_1d({1.0}), vlb::Error);
  EXPECT_THROW(fit_gmm_1d({1.0, NAN}), vlb::Error);
}

// ---- canonicalization, candidate sets, simulator -------------------------------------------

TEST(NearLabels, Canonicalisation) {
  EXPECT_EQ(vlb::canonical_label("  Spotted-Warbler. "), "spotted warbler");
  EXPECT_EQ(vlb::canonical_label("Spotted_Warbler", "full"), "spotted warbler");
  EXPECT_EQ(vlb::canonical_label("Spotted-Warbler.", "case"), "spotted-warbler.");
  EXPECT_EQ(vlb::canonical_label("A  B", "none"), "A  B");
  EXPECT_EQ(vlb::canonical_label("Île\tde  France", "case"), "Île de france");
  EXPECT_THROW(vlb::canonical_label("x", "lower"), vlb::ConfigError);
}

TEST(NearLabels, CandidateSetsHoldOwnAndNeighbourLabels) {
  // Four points on a circle at 0, 10, 20 and 90 degrees; labels 0, 1, 1, 2.
  auto ang = torch::tensor({0.0, 10.0, 20.0, 90.0}) * (M_PI / 180);
  auto x = torch::stack({torch::cos(ang), torch::sin(ang)}, 1).to(torch::kFloat);
  auto y = torch::tensor({0, 1, 1, 2}, torch::kLong);
  auto S1 = vlb::near::candidate_sets(x, y, 3, 1);
  // K=1: 0 -> 1 (label 1); 1 -> 0 or 2 tie at 10 degrees: lower row 0 (label 0); 2 -> 1; 3 -> 2.
  auto expect = torch::tensor({{1, 1, 0}, {1, 1, 0}, {0, 1, 0}, {0, 1, 1}}).to(torch::kBool);
  EXPECT_TRUE(S1.equal(expect)) << S1;
  auto S0 = vlb::near::candidate_sets(x, y, 3, 0);
  EXPECT_EQ(S0.sum().item<int64_t>(), 4);
  // Exact duplicates: self is still excluded.
  auto dup = torch::tensor({{1.f, 0.f}, {1.f, 0.f}, {0.f, 1.f}});
  auto nn = vlb::near::knn_excluding_self(dup, 1);
  EXPECT_EQ(nn[0][0].item<int64_t>(), 1);
  EXPECT_EQ(nn[1][0].item<int64_t>(), 0);
}

TEST(NearLabels, SimulatorIsCalibratedAndDeterministic) {
  vlb::SynthNoisyOptions o;
  o.classes = 60;
  o.families = 12;
  o.train_per_class = 20;  // 1200 labelled images: rates within a few points
  o.test_per_class = 1;
  auto ds = vlb::generate_synth_noisy(o);
  auto rows = ds.splits.at("train");
  std::vector<std::string> text(ds.texts.strings);
  auto st = vlb::label_stats(text, ds.label.index_select(0, rows), ds.class_names);
  EXPECT_NEAR(st.exact, o.labels.p_exact, 0.05);
  EXPECT_GT(st.distinct, o.classes);        // many distinct names (CUB: 251 for 200 classes)
  EXPECT_LT(st.distinct, 4 * o.classes);
  // Wrong class names are mostly names of classes of the same family (visually close).
  int64_t wrong = 0, same_family = 0;
  for (int64_t i = 0; i < rows.size(0); ++i) {
    const int64_t t = ds.label[rows[i].item<int64_t>()].item<int64_t>();
    for (int64_t c = 0; c < o.classes; ++c)
      if (c != t && vlb::canonical_label(text[i]) == ds.class_names[c]) {
        ++wrong;
        same_family += (c % o.families) == (t % o.families);
      }
  }
  EXPECT_GT(wrong, 0.15 * rows.size(0));
  EXPECT_GT(same_family, 0.8 * wrong);
  auto again = vlb::generate_synth_noisy(o);
  EXPECT_EQ(again.texts.strings, ds.texts.strings);
  EXPECT_TRUE(torch::equal(again.features, ds.features));
  o.seed = 1;
  EXPECT_NE(vlb::generate_synth_noisy(o).texts.strings, ds.texts.strings);
}

}  // namespace
