// OptionTable: the schema and the parsing of a component come from one declaration per option.
#include <gtest/gtest.h>

#include <string>

#include "vlb/core/error.h"
#include "vlb/core/options.h"

namespace {

struct Loss {
  double gamma = 2.0;
  bool clip = true;
};

struct Opts {
  int64_t iters = 300;
  int small = 4;
  double l2 = 1e-4;
  std::string solver = "lbfgs";
  Loss loss;
};

struct Widget {
  explicit Widget(const Opts& o) : o(o) {}
  virtual ~Widget() = default;
  Opts o;
};

const vlb::OptionTable<Loss>& loss_table() {
  static const auto t = [] {
    vlb::OptionTable<Loss> t;
    t.add("gamma", &Loss::gamma, "focusing").range(0, 10).add("clip", &Loss::clip, "clip");
    return t;
  }();
  return t;
}

vlb::OptionTable<Opts> table() {
  vlb::OptionTable<Opts> t;
  t.add("iters", &Opts::iters, "iterations").range(1, 1000)
      .add("small", &Opts::small, "an int field").min(0)
      .add("l2", &Opts::l2, "penalty").min(0.0)
      .add("solver", &Opts::solver, "solver").choices({"lbfgs", "adam"})
      .include(&Opts::loss, loss_table());
  return t;
}

TEST(OptionTable, SchemaComesFromTheStructDefaultsInDeclarationOrder) {
  auto s = table().schema();
  ASSERT_EQ(s.specs().size(), 6u);
  const char* names[] = {"iters", "small", "l2", "solver", "gamma", "clip"};
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(s.specs()[i].name, names[i]);
  EXPECT_EQ(s.find("iters")->type, vlb::ParamType::kInt);
  EXPECT_EQ(std::get<int64_t>(s.find("iters")->default_value), 300);
  EXPECT_EQ(s.find("small")->type, vlb::ParamType::kInt);
  EXPECT_EQ(s.find("l2")->type, vlb::ParamType::kFloat);
  EXPECT_EQ(std::get<double>(s.find("l2")->default_value), 1e-4);
  EXPECT_EQ(*s.find("l2")->min, 0.0);
  EXPECT_FALSE(s.find("l2")->max.has_value());
  EXPECT_EQ(*s.find("iters")->max, 1000.0);
  EXPECT_EQ(s.find("solver")->choices.size(), 2u);
  EXPECT_EQ(std::get<bool>(s.find("clip")->default_value), true);
  EXPECT_EQ(std::get<double>(s.find("gamma")->default_value), 2.0);
  EXPECT_EQ(s.find("iters")->help, "iterations");
}

TEST(OptionTable, ParseReadsEveryFieldIncludingNestedOnes) {
  auto t = table();
  vlb::Params p = t.defaults();
  p.set("iters", t.schema().check("iters", int64_t{7}));
  p.set("small", int64_t{9});
  p.set("l2", 0.5);
  p.set("solver", std::string("adam"));
  p.set("gamma", t.schema().check("gamma", int64_t{3}));  // an int widens for a float option
  p.set("clip", false);
  Opts o = t.parse(p);
  EXPECT_EQ(o.iters, 7);
  EXPECT_EQ(o.small, 9);
  EXPECT_EQ(o.l2, 0.5);
  EXPECT_EQ(o.solver, "adam");
  EXPECT_EQ(o.loss.gamma, 3.0);
  EXPECT_FALSE(o.loss.clip);
  // The reverse direction gives back the same values.
  vlb::Params back = t.to_params(o);
  EXPECT_EQ(back.get_int("iters"), 7);
  EXPECT_EQ(back.get_float("gamma"), 3.0);
  EXPECT_EQ(back.get_string("solver"), "adam");
}

TEST(OptionTable, ValidationUsesTheDeclaredRangesAndChoices) {
  auto s = table().schema();
  EXPECT_THROW(s.check("iters", int64_t{0}), vlb::ConfigError);
  EXPECT_THROW(s.check("l2", -1.0), vlb::ConfigError);
  EXPECT_THROW(s.check("solver", std::string("sgd")), vlb::ConfigError);
  EXPECT_THROW(s.check("gamma", 11.0), vlb::ConfigError);
  EXPECT_THROW(s.check("itres", int64_t{3}), vlb::ConfigError);
}

TEST(OptionTable, APrototypeGivesAnotherComponentOtherDefaults) {
  Opts proto;
  proto.iters = 25;
  proto.loss.gamma = 0.5;
  vlb::OptionTable<Opts> t(proto);
  t.add("iters", &Opts::iters, "iterations").include(&Opts::loss, loss_table());
  auto s = t.schema();
  EXPECT_EQ(std::get<int64_t>(s.find("iters")->default_value), 25);
  EXPECT_EQ(std::get<double>(s.find("gamma")->default_value), 0.5);
  // Fields that are not declared keep the prototype's values.
  EXPECT_EQ(t.parse(t.defaults()).l2, 1e-4);
}

TEST(OptionTable, DeclarationMistakesAreCaught) {
  vlb::OptionTable<Opts> t;
  t.add("iters", &Opts::iters, "a");
  EXPECT_THROW(t.add("iters", &Opts::small, "b"), vlb::Error);
  EXPECT_THROW(t.choices({"x"}), vlb::Error);  // choices on an int option
  vlb::OptionTable<Opts> empty;
  EXPECT_THROW(empty.min(0), vlb::Error);
}

TEST(OptionTable, MakeEntryBuildsTheComponentFromParsedOptions) {
  auto e = vlb::make_entry<Widget, Widget>({"widget", "a test widget", {"tag:x"}, "3"}, table());
  EXPECT_EQ(e.name, "widget");
  EXPECT_EQ(e.version, "3");
  ASSERT_EQ(e.tags.size(), 1u);
  EXPECT_EQ(e.schema.specs().size(), 6u);
  vlb::Params p = e.schema.defaults();
  p.set("iters", int64_t{11});
  auto w = e.factory(p);
  EXPECT_EQ(w->o.iters, 11);
  EXPECT_EQ(w->o.solver, "lbfgs");
}

}  // namespace
