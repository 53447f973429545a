// Note [Trained together] (vlb/methods/method.h): every method tagged "together" gives each member
// of a fit_together call exactly what fit() alone gives, bit for bit, whatever the thread count,
// and its run generator gives the stream the global generator gave before generators were passed.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vlb/datasets/fewshot.h"
#include "vlb/datasets/synth.h"
#include "vlb/datasets/synth_composition.h"
#include "vlb/datasets/synth_gzsl.h"
#include "vlb/experiments/builtins.h"

namespace {

struct Case {
  std::map<std::string, vlb::ParamValue> params;
  uint64_t seed;
  int64_t shots = 0;
};

struct Problem {
  std::string method;
  const vlb::Dataset* ds;
  std::string train_split, eval_split;
};

std::unique_ptr<vlb::Method> make(const std::string& method, const Case& k) {
  const auto& e = vlb::builtins().methods.get(method);
  vlb::Params p = e.schema.defaults();
  for (const auto& [name, v] : k.params) p.set(name, e.schema.check(name, v));
  return e.factory(p);
}

vlb::DataView train_view(const Problem& s, const Case& k) {
  return vlb::sample_shots(vlb::make_view(*s.ds, s.train_split), k.shots, k.seed);
}

at::Tensor scores(vlb::Method& m, const Problem& s) {
  vlb::RunContext ctx;
  return m.predict(vlb::make_view(*s.ds, s.eval_split), ctx).scores;
}

// As the runner fits a run alone: threads, global seed and the run's generator set just before.
// `generator` false: the global generator only, as callers that set no generator have it.
at::Tensor alone(const Problem& s, const Case& k, int threads, bool generator = true) {
  auto m = make(s.method, k);
  vlb::RunContext ctx;
  ctx.seed = k.seed;
  ctx.threads = threads;
  if (generator) ctx.generator = at::make_generator<at::CPUGeneratorImpl>(k.seed);
  at::set_num_threads(threads);
  at::manual_seed(k.seed);
  m->fit(train_view(s, k), ctx);
  auto out = scores(*m, s);
  at::set_num_threads(1);
  return out;
}

std::vector<at::Tensor> together(const Problem& s, const std::vector<Case>& cases, int threads) {
  std::vector<std::unique_ptr<vlb::Method>> methods;
  std::vector<vlb::DataView> views;
  std::vector<vlb::RunContext> ctxs(cases.size());
  views.reserve(cases.size());
  std::vector<vlb::Method::Member> members;
  for (size_t i = 0; i < cases.size(); ++i) {
    methods.push_back(make(s.method, cases[i]));
    views.push_back(train_view(s, cases[i]));
    ctxs[i].seed = cases[i].seed;
    ctxs[i].threads = threads;
    ctxs[i].generator = at::make_generator<at::CPUGeneratorImpl>(cases[i].seed);
  }
  for (size_t i = 0; i < cases.size(); ++i)
    members.push_back({methods[i].get(), &views[i], &ctxs[i], {}});
  at::set_num_threads(threads);
  at::manual_seed(12345);  // a member must not read the global generator
  methods[0]->fit_together(members);
  at::set_num_threads(1);
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(members[i].error, "") << "member " << i;
    out.push_back(scores(*methods[i], s));
  }
  return out;
}

void expect_identical(const Problem& s, const std::vector<Case>& cases) {
  SCOPED_TRACE(s.method);
  ASSERT_TRUE(vlb::has_tag(vlb::builtins().methods.get(s.method).tags, "together"));
  for (int threads : {1, 2}) {
    auto got = together(s, cases, threads);
    for (size_t i = 0; i < cases.size(); ++i) {
      auto want = alone(s, cases[i], 2);
      EXPECT_TRUE(torch::equal(got[i], want)) << "member " << i << " at " << threads
                                              << " threads";
    }
  }
  // Not the same model throughout: the members differ from each other.
  auto first = alone(s, cases[0], 1);
  for (size_t i = 1; i < cases.size(); ++i)
    EXPECT_FALSE(torch::equal(alone(s, cases[i], 1), first)) << "member " << i;
  // The run generator reproduces the global stream, so results did not move with it.
  for (const auto& k : cases) EXPECT_TRUE(torch::equal(alone(s, k, 1), alone(s, k, 1, false)));
}

TEST(TrainedTogether, LinearProbeSeedsAndL2) {
  vlb::SynthOptions o;
  o.train_per_class = 12;
  o.test_per_class = 10;
  auto ds = vlb::generate_synth(o);
  Problem s{"linear_probe", &ds, "train", "test"};
  using P = std::map<std::string, vlb::ParamValue>;
  const P adam{{"optimizer", std::string("adam")}, {"epochs", int64_t(15)}, {"batch_size", int64_t(32)}};
  P adam_l2 = adam;
  adam_l2["l2"] = 1e-2;
  const P lbfgs{{"max_iter", int64_t(40)}};
  P lbfgs_l2 = lbfgs;
  lbfgs_l2["l2"] = 1e-2;
  // Two L-BFGS seeds on the same rows share one solve; shots give each seed its own rows.
  expect_identical(s, {{adam, 0}, {adam, 1}, {adam_l2, 0}, {lbfgs, 0}, {lbfgs_l2, 1},
                       {lbfgs, 2, 4}, {adam, 2, 4}});
}

TEST(TrainedTogether, LinearProbeSharedLbfgsSolveEqualsEachSeedAlone) {
  vlb::SynthOptions o;
  o.train_per_class = 8;
  auto ds = vlb::generate_synth(o);
  Problem s{"linear_probe", &ds, "train", "test"};
  std::map<std::string, vlb::ParamValue> p{{"max_iter", int64_t(30)}};
  auto got = together(s, {{p, 0}, {p, 1}, {p, 2}}, 2);
  for (uint64_t seed = 0; seed < 3; ++seed)
    EXPECT_TRUE(torch::equal(got[seed], alone(s, {p, seed}, 2))) << "seed " << seed;
}

TEST(TrainedTogether, InjectionMlps) {
  vlb::SynthGzslOptions o;
  o.classes = 20;
  o.unseen = 5;
  o.dim = 32;
  o.attributes = 16;
  o.train_per_class = 8;
  o.test_per_class = 4;
  auto ds = vlb::generate_synth_gzsl(o);
  using P = std::map<std::string, vlb::ParamValue>;
  const P base{{"hidden", int64_t(64)}, {"lr", 1e-3}, {"epochs", int64_t(40)},
               {"base_lr", 1e-3}, {"base_epochs", int64_t(5)}};
  P wide = base;
  wide["hidden"] = int64_t(96);
  for (const char* method : {"icis", "mlp_injector", "subreg"}) {
    Problem s{method, &ds, "trainval", "test"};
    expect_identical(s, {{base, 0}, {base, 1}, {wide, 0}, {base, 2}});
  }
  Problem smo{"vgse_smo", &ds, "trainval", "test"};
  expect_identical(smo, {{{{"base_epochs", int64_t(3)}}, 0}, {{{"base_epochs", int64_t(3)}}, 1}});
}

TEST(TrainedTogether, ContrastiveHeads) {
  vlb::SynthCompositionOptions o;
  o.train_images = 200;
  o.test_images = 60;
  o.winoground_pairs = 10;
  auto ds = vlb::generate_synth_composition(o);
  Problem s{"contrastive_heads", &ds, "train", "test"};
  using P = std::map<std::string, vlb::ParamValue>;
  const P p{{"epochs", int64_t(4)}, {"hard_negative_epochs", int64_t(2)}, {"batch_size", int64_t(64)}};
  P lr = p;
  lr["lr"] = 3e-3;
  expect_identical(s, {{p, 0}, {p, 1}, {lr, 0}});
}

TEST(TrainedTogether, AFailingMemberLeavesTheOthersFitted) {
  vlb::SynthOptions o;
  auto ds = vlb::generate_synth(o);
  Problem s{"linear_probe", &ds, "train", "test"};
  std::map<std::string, vlb::ParamValue> p{{"max_iter", int64_t(10)}};
  std::vector<std::unique_ptr<vlb::Method>> methods;
  methods.push_back(make(s.method, {p, 0}));
  methods.push_back(make(s.method, {p, 1}));
  vlb::DataView good = train_view(s, {p, 0});
  vlb::DataView empty = good;
  empty.rows = torch::zeros({0}, torch::kLong);
  vlb::RunContext c0, c1;
  std::vector<vlb::Method::Member> members = {{methods[0].get(), &empty, &c0, {}},
                                              {methods[1].get(), &good, &c1, {}}};
  methods[0]->fit_together(members);
  EXPECT_NE(members[0].error.find("is empty"), std::string::npos) << members[0].error;
  EXPECT_EQ(members[1].error, "");
  EXPECT_TRUE(torch::equal(scores(*methods[1], s), alone(s, {p, 1}, 1)));
}

}  // namespace
