// Fake components for the experiments tests, so they never depend on the real datasets, methods
// and metrics. Declared where used as `void add_fakes(Registries&)`.
#include <torch/torch.h>

#include <cstdlib>
#include <fmt/format.h>

#include "vlb/core/sha256.h"
#include "vlb/experiments/builtins.h"

namespace vlb::test {
namespace {

// Well-separated class centres plus a deterministic (seed-free) wobble of size `spread`; the
// fingerprint is derived from the data-determining params only, like a content hash would be.
class FakeSource : public DatasetSource {
 public:
  explicit FakeSource(const Params& p) : p_(p) {}
  Dataset load(const SourceContext&) override {
    int64_t C = p_.get_int("classes"), per = p_.get_int("per_class"), D = p_.get_int("dim");
    int64_t train_per = p_.get_int("train_per_class");
    double spread = p_.get_float("spread");
    Dataset ds;
    ds.path = p_.get_string("path");
    ds.name = "fake";
    ds.feature_dtype = "float32";
    ds.fingerprint = sha256_hex(fmt::format("fake|{}|{}|{}|{}|{}", C, per, D, spread, train_per));
    for (int64_t c = 0; c < C; ++c) ds.class_names.push_back("class" + std::to_string(c));
    int64_t N = C * per;
    auto label = torch::arange(N, torch::kLong).div(per, "floor");
    auto centres = torch::zeros({C, D});
    for (int64_t c = 0; c < C; ++c) centres[c][c % D] = 2.0 + static_cast<double>(c / D);
    auto wobble = torch::sin(torch::arange(N * D, torch::kFloat).reshape({N, D}) * 1.7);
    ds.features = centres.index_select(0, label) + spread * wobble;
    ds.label = label;
    std::vector<int64_t> train, test;
    for (int64_t i = 0; i < N; ++i) (i % per < train_per ? train : test).push_back(i);
    ds.splits["train"] = torch::tensor(train, torch::kLong);
    ds.splits["test"] = torch::tensor(test, torch::kLong);
    return ds;
  }

 private:
  Params p_;
};

// Nearest class mean with optional seeded noise on the scores (so the seed changes results).
class Centroid : public Method {
 public:
  explicit Centroid(const Params& p) : noise_(p.get_float("noise")), shrink_(p.get_float("shrink")) {}
  void fit(const DataView& train, const RunContext&) override {
    auto x = train.features();
    auto y = train.label();
    int64_t C = train.dataset->num_classes();
    means_ = torch::zeros({C, x.size(1)});
    for (int64_t c = 0; c < C; ++c) {
      auto rows = x.index({y == c});
      if (rows.size(0) > 0) means_[c] = rows.mean(0) * (1.0 - shrink_);
    }
  }
  Prediction predict(const DataView& eval, const RunContext&) override {
    auto d = torch::cdist(eval.features(), means_);
    Prediction p;
    p.scores = -d + noise_ * torch::randn(d.sizes());
    return p;
  }

 private:
  double noise_, shrink_;
  at::Tensor means_;
};

class Boom : public Method {
 public:
  void fit(const DataView&, const RunContext&) override { throw Error("boom in fit"); }
  Prediction predict(const DataView&, const RunContext&) override { return {}; }
};

// Dies mid-run like a killed process: no exception, no cleanup. 97 is no exit code of vlb's
// (3 would read as "some runs failed"), so a test sees that this process, not the runner, ended.
inline constexpr int kCrashExitCode = 97;
class Crash : public Method {
 public:
  void fit(const DataView&, const RunContext&) override {}
  Prediction predict(const DataView&, const RunContext&) override { std::_Exit(kCrashExitCode); }
};

class Acc : public Metric {
 public:
  void reset() override { correct_ = total_ = 0; }
  void update(const Prediction& pred, const Targets& t) override {
    auto hit = pred.scores.argmax(1).eq(t.label);
    correct_ += hit.sum().item<int64_t>();
    total_ += hit.size(0);
  }
  std::vector<MetricValue> compute() const override {
    return {{"cls/acc", total_ ? static_cast<double>(correct_) / total_ : 0.0, true},
            {"cls/err", total_ ? 1.0 - static_cast<double>(correct_) / total_ : 0.0, false}};
  }
  std::vector<std::string> value_names() const override { return {"cls/acc", "cls/err"}; }

 private:
  int64_t correct_ = 0, total_ = 0;
};

}  // namespace

void add_fakes(Registries& r) {
  RegistryEntry<DatasetSource> src;
  src.name = "fake";
  src.help = "tiny in-memory dataset";
  src.schema.add_int("classes", 3, 2, 50, "classes")
      .add_int("per_class", 6, 2, 100, "rows per class")
      .add_int("dim", 4, 1, 64, "feature dim")
      .add_int("train_per_class", 3, 1, 99, "train rows per class")
      .add_float("spread", 0.3, 0.0, 10.0, "noise")
      .add_string("path", "", {}, "where it pretends to come from (not content)");
  src.factory = [](const Params& p) -> std::unique_ptr<DatasetSource> {
    return std::make_unique<FakeSource>(p);
  };
  r.datasets.add(std::move(src));

  RegistryEntry<Method> m;
  m.name = "centroid";
  m.version = "2";
  m.schema.add_float("noise", 0.0, 0.0, 10.0, "score noise")
      .add_float("shrink", 0.0, 0.0, 1.0, "mean shrinkage")
      .add_float("l2", 0.0, 0.0, std::nullopt, "unused regulariser")
      .add_bool("normalize", false, "unused flag")
      .add_string("mode", "mean", {"mean", "median"}, "unused choice");
  m.factory = [](const Params& p) -> std::unique_ptr<Method> { return std::make_unique<Centroid>(p); };
  r.methods.add(std::move(m));

  RegistryEntry<Method> boom;
  boom.name = "boom";
  boom.schema.add_float("l2", 0.0, 0.0, std::nullopt, "same name as centroid's");
  boom.factory = [](const Params&) -> std::unique_ptr<Method> { return std::make_unique<Boom>(); };
  r.methods.add(std::move(boom));

  RegistryEntry<Method> crash;
  crash.name = "crash";
  crash.factory = [](const Params&) -> std::unique_ptr<Method> { return std::make_unique<Crash>(); };
  r.methods.add(std::move(crash));

  RegistryEntry<Metric> acc;
  acc.name = "acc";
  acc.factory = [](const Params&) -> std::unique_ptr<Metric> { return std::make_unique<Acc>(); };
  r.metrics.add(std::move(acc));

  RegistryEntry<Metric> acc2;
  acc2.name = "acc_k";
  acc2.schema.add_int("k", 1, 1, 10, "top-k");
  acc2.factory = [](const Params&) -> std::unique_ptr<Metric> { return std::make_unique<Acc>(); };
  r.metrics.add(std::move(acc2));
}

}  // namespace vlb::test
