// Baseline methods and shared ops, checked against independent computations.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "vlb/core/error.h"
#include "vlb/datasets/fewshot.h"
#include "vlb/datasets/synth.h"
#include "vlb/experiments/builtins.h"
#include "vlb/methods/method.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace {

MethodRegistry& methods() {
  static MethodRegistry reg = [] {
    MethodRegistry r("method");
    register_baselines(r);
    return r;
  }();
  return reg;
}

std::unique_ptr<Method> make(const std::string& name,
                             std::initializer_list<std::pair<const char*, ParamValue>> over = {}) {
  const auto& e = methods().get(name);
  Params p = e.schema.defaults();
  for (const auto& kv : over) p.set(kv.first, e.schema.check(kv.first, kv.second));
  return e.factory(p);
}

// Three classes in 2-D, two train and two test rows each, plus two prompts per class.
Dataset toy() {
  Dataset ds;
  ds.name = "toy";
  ds.class_names = {"a", "b", "c"};
  ds.features = torch::tensor({{1.0f, 0.1f}, {0.9f, -0.1f}, {0.1f, 1.0f}, {-0.1f, 0.8f},
                               {-1.0f, 0.1f}, {-0.8f, -0.2f},   // train
                               {1.0f, 0.0f}, {0.2f, 0.9f}, {-0.9f, 0.0f}, {0.7f, 0.7f}});  // test
  ds.label = torch::tensor({0, 0, 1, 1, 2, 2, 0, 1, 2, 1}, torch::kLong);
  ds.splits["train"] = torch::arange(0, 6, torch::kLong);
  ds.splits["test"] = torch::arange(6, 10, torch::kLong);
  ds.texts.features = torch::tensor({{2.0f, 0.0f}, {1.0f, 1.0f}, {0.0f, 3.0f}, {0.0f, 1.0f},
                                     {-1.0f, 0.0f}, {-1.0f, -1.0f}});
  ds.texts.cls = torch::tensor({0, 0, 1, 1, 2, 2}, torch::kLong);
  ds.texts.image = torch::full({6}, -1, torch::kLong);
  ds.texts.source = torch::zeros({6}, torch::kChar);
  ds.texts.strings = {"a1", "a2", "b1", "b2", "c1", "c2"};
  return ds;
}

TEST(Ops, StableTopkBreaksTiesByLowerIndex) {
  auto s = torch::tensor({{-1.0f, -1.0f, -1.0f, -1.0f, 0.5f}, {3.0f, 7.0f, 7.0f, 1.0f, 7.0f}});
  auto t = stable_topk(s, 3);
  EXPECT_TRUE(torch::equal(t.indices, torch::tensor({{4, 0, 1}, {1, 2, 4}}, torch::kLong)));
  EXPECT_FLOAT_EQ(t.values[1][2].item<float>(), 7.0f);
}

TEST(Ops, NormalizeKeepsZeroRowsFinite) {
  auto y = l2_normalize(torch::tensor({{3.0f, 4.0f}, {0.0f, 0.0f}}));
  EXPECT_FLOAT_EQ(y[0][0].item<float>(), 0.6f);
  EXPECT_FLOAT_EQ(y[1][1].item<float>(), 0.0f);
}

TEST(Ops, ClassMeansAndCounts) {
  at::Tensor counts;
  auto m = class_means(torch::tensor({{1.0f}, {3.0f}, {10.0f}}), torch::tensor({0, 0, 2}, torch::kLong),
                       4, &counts);
  EXPECT_FLOAT_EQ(m[0][0].item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(m[1][0].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(m[2][0].item<float>(), 10.0f);
  EXPECT_TRUE(torch::equal(counts, torch::tensor({2.0f, 0.0f, 1.0f, 0.0f})));
}

TEST(ZeroShot, AveragesNormalizedPromptsPerClass) {
  Dataset ds = toy();
  auto m = make("zeroshot");
  RunContext ctx;
  m->fit(make_view(ds, "train"), ctx);
  auto scores = m->predict(make_view(ds, "test"), ctx).scores;
  // Independent computation: class a's prompts normalize to (1,0) and (.707,.707).
  auto prompts = ds.texts.features / ds.texts.features.norm(2, 1, true);
  auto cls = (prompts.view({3, 2, 2}).mean(1));
  cls = cls / cls.norm(2, 1, true);
  auto x = ds.features.slice(0, 6);
  x = x / x.norm(2, 1, true);
  EXPECT_TRUE(torch::allclose(scores, x.mm(cls.t()), 1e-6, 1e-6));
}

TEST(ZeroShot, ClassWithoutTextIsALocatedError) {
  Dataset ds = toy();
  ds.texts.cls = torch::tensor({0, 0, 0, 0, 2, 2}, torch::kLong);
  auto m = make("zeroshot");
  try {
    m->fit(make_view(ds, "train"), RunContext{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'b'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/texts/class"), std::string::npos) << e.what();
  }
}

TEST(ZeroShot, UnknownDescriptorKindIsAnError) {
  Dataset ds = toy();
  auto m = make("zeroshot", {{"descriptor", std::string("wiki2vec")}});
  EXPECT_THROW(m->fit(make_view(ds, "train"), RunContext{}), ConfigError);
}

TEST(NearestClassMean, MatchesCosineToNormalizedMeans) {
  Dataset ds = toy();
  auto m = make("ncm");
  m->fit(make_view(ds, "train"), RunContext{});
  auto scores = m->predict(make_view(ds, "test"), RunContext{}).scores;
  auto tr = ds.features.slice(0, 0, 6);
  tr = tr / tr.norm(2, 1, true);
  auto means = tr.view({3, 2, 2}).mean(1);
  means = means / means.norm(2, 1, true);
  auto x = ds.features.slice(0, 6);
  x = x / x.norm(2, 1, true);
  EXPECT_TRUE(torch::allclose(scores, x.mm(means.t()), 1e-6, 1e-6));
  EXPECT_TRUE(torch::equal(scores.argmax(1), torch::tensor({0, 1, 2, 0}, torch::kLong)));
}

TEST(NearestClassMean, ClassWithoutTrainingRowsIsNeverPredicted) {
  Dataset ds = toy();
  ds.splits["train"] = torch::arange(0, 4, torch::kLong);  // no rows of class c
  auto m = make("ncm");
  m->fit(make_view(ds, "train"), RunContext{});
  auto scores = m->predict(make_view(ds, "test"), RunContext{}).scores;
  EXPECT_TRUE(torch::isinf(scores.select(1, 2)).all().item<bool>());
  EXPECT_EQ(scores.argmax(1)[2].item<int64_t>() == 2, false);
}

TEST(LinearProbe, LbfgsReachesAStationaryPointOfTheRegularisedObjective) {
  Dataset ds = toy();
  const double l2 = 0.01;
  auto m = make("linear_probe", {{"l2", l2}});
  m->fit(make_view(ds, "train"), RunContext{});
  auto logits = m->predict(make_view(ds, "train"), RunContext{}).scores;
  // Recover W and b by solving with the logits of train rows, then check the gradient
  // of the objective vanishes: an independent optimality certificate.
  auto x = ds.features.slice(0, 0, 6);
  x = x / x.norm(2, 1, true);
  auto X1 = torch::cat({x, torch::ones({6, 1})}, 1);             // [6, 3]
  auto sol = std::get<0>(torch::linalg_lstsq(X1, logits));        // [3, C]
  auto W = sol.slice(0, 0, 2).clone().requires_grad_(true);
  auto b = sol[2].clone().requires_grad_(true);
  auto y = ds.label.slice(0, 0, 6);
  auto loss = torch::nn::functional::cross_entropy(torch::addmm(b, x, W), y) +
              0.5 * l2 * W.pow(2).sum();
  loss.backward();
  EXPECT_LT(W.grad().abs().max().item<double>(), 1e-3);
  EXPECT_LT(b.grad().abs().max().item<double>(), 1e-3);
  EXPECT_TRUE(torch::equal(logits.argmax(1), y));
}

// LBFGS::step returns the objective of its first closure call, ln C at the zero start; the
// logged final objective must be the one at the weights fit() leaves.
TEST(LinearProbe, LogsTheFinalObjectiveAndTheIterationCount) {
  torch::manual_seed(11);
  const int64_t n = 90, d = 4;
  Dataset ds;
  ds.name = "lp";
  ds.class_names = {"a", "b", "c"};
  ds.features = torch::randn({n, d});
  ds.label = (ds.features.mm(torch::randn({d, 3})) + 0.5 * torch::randn({n, 3})).argmax(1);
  ds.splits["train"] = torch::arange(n, torch::kLong);
  const double l2 = 0.01;
  auto m = make("linear_probe", {{"l2", l2}});
  std::vector<std::string> lines;
  RunContext ctx;
  ctx.log = [&](const std::string& line) { lines.push_back(line); };
  m->fit(make_view(ds, "train"), ctx);
  double logged = -1;
  long long iterations = -1;
  for (const auto& line : lines)
    if (std::sscanf(line.c_str(), "linear_probe: final objective %lf after %lld L-BFGS iterations",
                    &logged, &iterations) == 2)
      break;
  ASSERT_GE(iterations, 0) << "no final-objective line in the log";
  RecordProperty("final_objective", std::to_string(logged));
  RecordProperty("iterations", std::to_string(iterations));
  EXPECT_GT(iterations, 1);
  EXPECT_LT(logged, std::log(3.0) - 0.1);
  // Recompute the objective at the returned weights: W and b from the train logits by least
  // squares (in double, exact up to the logits' rounding), the cross-entropy on the logits.
  auto logits = m->predict(make_view(ds, "train"), ctx).scores;
  auto x = ds.features / ds.features.norm(2, 1, true);
  auto X1 = torch::cat({x, torch::ones({n, 1})}, 1).to(torch::kDouble);
  auto sol = std::get<0>(torch::linalg_lstsq(X1, logits.to(torch::kDouble)));
  auto W = sol.slice(0, 0, d);
  double objective = torch::nn::functional::cross_entropy(logits, ds.label).item<double>() +
                     0.5 * l2 * W.pow(2).sum().item<double>();
  EXPECT_NEAR(logged, objective, 1e-5);
}

TEST(LinearProbe, LbfgsIsDeterministicAndAdamIsSeeded) {
  Dataset ds = toy();
  auto fit_predict = [&](const std::string& opt, uint64_t seed) {
    torch::manual_seed(seed);
    auto m = make("linear_probe", {{"optimizer", opt}, {"epochs", int64_t{5}}, {"batch_size", int64_t{2}}});
    RunContext ctx;
    ctx.seed = seed;
    m->fit(make_view(ds, "train"), ctx);
    return m->predict(make_view(ds, "test"), ctx).scores;
  };
  EXPECT_TRUE(torch::equal(fit_predict("lbfgs", 0), fit_predict("lbfgs", 1)));
  EXPECT_TRUE(torch::equal(fit_predict("adam", 3), fit_predict("adam", 3)));
  EXPECT_FALSE(torch::equal(fit_predict("adam", 3), fit_predict("adam", 4)));
}

TEST(FewShot, SamplesKPerClassDeterministicallyBySeed) {
  Dataset ds = toy();
  auto v = make_view(ds, "train");
  auto a = sample_shots(v, 1, 7);
  auto b = sample_shots(v, 1, 7);
  EXPECT_EQ(a.size(), 3);
  EXPECT_TRUE(torch::equal(a.rows, b.rows));
  EXPECT_TRUE(torch::equal(std::get<0>(torch::sort(a.rows)), a.rows));
  EXPECT_TRUE(torch::equal(std::get<0>(torch::_unique(a.label())), torch::tensor({0, 1, 2}, torch::kLong)));
  bool differs = false;
  for (uint64_t s = 0; s < 20 && !differs; ++s) differs = !torch::equal(sample_shots(v, 1, s).rows, a.rows);
  EXPECT_TRUE(differs) << "20 seeds drew the same shots";
  EXPECT_TRUE(torch::equal(sample_shots(v, 5, 0).rows, v.rows));  // fewer rows than K: keep all
}

// The embedded generator must rank the baselines as the CLIP / Tip-Adapter papers do at 16 shots.
TEST(Synthetic, LinearProbeBeatsNcmBeatsZeroShotAsTheGeneratorIsBuiltTo) {
  Dataset ds = generate_synth(SynthOptions{});
  auto acc = [&](const std::string& name) {
    torch::manual_seed(0);
    auto m = make(name);
    m->fit(make_view(ds, "train"), RunContext{});
    auto test = make_view(ds, "test");
    auto pred = m->predict(test, RunContext{}).scores.argmax(1);
    return pred.eq(test.label()).to(torch::kDouble).mean().item<double>();
  };
  double zs = acc("zeroshot"), ncm = acc("ncm"), lp = acc("linear_probe");
  RecordProperty("zeroshot", std::to_string(zs));
  RecordProperty("ncm", std::to_string(ncm));
  RecordProperty("linear_probe", std::to_string(lp));
  EXPECT_GT(lp, ncm + 0.01) << "zs=" << zs << " ncm=" << ncm << " lp=" << lp;
  EXPECT_GT(ncm, zs + 0.01) << "zs=" << zs << " ncm=" << ncm << " lp=" << lp;
  EXPECT_GT(zs, 3.0 / ds.num_classes());
  EXPECT_LT(lp, 0.995);
}

}  // namespace
}  // namespace vlb
