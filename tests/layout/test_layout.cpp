// The repository's structure rules, checked on the source tree (data-driven: each rule is a row).
//  - Data flows one way: core <- datasets <- methods <- metrics <- experiments; reports read run
//    directories only (core and reports), and neither core nor reports sees LibTorch or HDF5.
//  - No source file over 600 lines; no include by relative path.
//  - No comment or doc points at documents a reader of the repository does not have.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kModules = {"core", "datasets", "methods", "metrics", "experiments",
                                           "reports"};

// What each module may include from vlb/<module>/ (itself included).
const std::map<std::string, std::set<std::string>> kMayInclude = {
    {"core", {"core"}},
    {"datasets", {"core", "datasets"}},
    {"methods", {"core", "datasets", "methods"}},
    {"metrics", {"core", "datasets", "methods", "metrics"}},
    {"experiments", {"core", "datasets", "methods", "metrics", "experiments", "reports"}},
    {"reports", {"core", "reports"}},
};
// Headers of libraries a module must not see.
const std::map<std::string, std::vector<std::string>> kForbiddenSystem = {
    {"core", {"torch/", "ATen/", "c10/", "caffe2/", "hdf5", "H5", "matio"}},
    {"reports", {"torch/", "ATen/", "c10/", "caffe2/", "hdf5", "H5", "matio"}},
};

struct Source {
  std::string rel;  // path from the source root
  std::string text;
};

std::vector<Source> sources(const std::vector<std::string>& roots,
                            const std::set<std::string>& exts = {".cpp", ".h"}) {
  std::vector<Source> out;
  const fs::path root = vlb::test::source_dir();
  for (const auto& r : roots) {
    if (!fs::exists(root / r)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root / r)) {
      if (!e.is_regular_file() || !exts.count(e.path().extension().string())) continue;
      if (e.path().string().find("/build/") != std::string::npos) continue;
      std::ifstream f(e.path());
      std::stringstream ss;
      ss << f.rdbuf();
      out.push_back({fs::relative(e.path(), root).string(), ss.str()});
    }
  }
  return out;
}

TEST(Layout, ModulesIncludeOnlyLowerModules) {
  const std::regex inc(R"re(#include\s+["<]vlb/([a-z_]+)/)re");
  int checked = 0;
  for (const auto& mod : kModules) {
    for (const auto& s : sources({mod})) {
      std::istringstream in(s.text);
      int line_no = 0;
      for (std::string line; std::getline(in, line);) {
        ++line_no;
        std::smatch m;
        if (std::regex_search(line, m, inc)) {
          ++checked;
          EXPECT_TRUE(kMayInclude.at(mod).count(m[1]))
              << s.rel << ":" << line_no << ": " << mod << " includes vlb/" << m[1] << "/";
        }
        auto it = kForbiddenSystem.find(mod);
        if (it != kForbiddenSystem.end() && line.rfind("#include", 0) == 0) {
          for (const auto& lib : it->second) {
            EXPECT_EQ(line.find("<" + lib), std::string::npos)
                << s.rel << ":" << line_no << ": " << mod << " must not include " << lib;
            EXPECT_EQ(line.find("\"" + lib), std::string::npos)
                << s.rel << ":" << line_no << ": " << mod << " must not include " << lib;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 100);  // the scan saw the tree
}

TEST(Layout, NoIncludeByRelativePath) {
  for (const auto& s : sources({"core", "datasets", "methods", "metrics", "experiments", "reports",
                                "tests"}))
    EXPECT_EQ(s.text.find("#include \"../"), std::string::npos) << s.rel;
}

// <torch/torch.h> costs ~20 s per translation unit: headers use <ATen/core/Tensor.h>, and only the
// .cpp files that need the full API pay for it.
TEST(Layout, NoHeaderIncludesTheFullTorchHeader) {
  const std::regex inc(R"re(#include\s+[<"]torch/(torch|all)\.h[>"])re");
  int headers = 0;
  for (const auto& s : sources({"core", "datasets", "methods", "metrics", "experiments", "reports", "tests"},
                               {".h"})) {
    ++headers;
    EXPECT_FALSE(std::regex_search(s.text, inc)) << s.rel << " includes the full LibTorch header";
  }
  EXPECT_GT(headers, 20);
}

TEST(Layout, NoSourceFileOver600Lines) {
  int files = 0;
  for (const auto& s : sources({"core", "datasets", "methods", "metrics", "experiments", "reports",
                                "tests"})) {
    ++files;
    const auto lines = std::count(s.text.begin(), s.text.end(), '\n');
    EXPECT_LE(lines, 600) << s.rel << " has " << lines << " lines";
  }
  EXPECT_GT(files, 50);
}

TEST(Layout, NothingCitesDocumentsOutsideTheRepository) {
  // A reader of the repository has the code, docs/ and the public sources they name; not the
  // team's planning notes or tracker.
  const std::vector<std::pair<std::regex, std::string>> rules = {
      {std::regex(std::string("shared") + "/specs"), "cites the team's planning specs"},
      {std::regex(R"(\bspec(s)? §)"), "cites a section of a planning spec"},
      {std::regex(R"(\(§[0-9])"), "cites a numbered section of a document that is not here"},
      {std::regex(R"((^|[^a-z])issue #?[0-9]+)", std::regex::icase), "cites a tracker issue"},
  };
  auto files = sources({"core", "datasets", "methods", "metrics", "experiments", "reports", "tests",
                        "docs", "configs", "third_party", ".ci"},
                       {".cpp", ".h", ".md", ".yaml", ".txt", ".sh", ".py", ""});
  for (const char* top : {"README.md", "CMakeLists.txt", "vlb"})
    files.push_back({top, vlb::test::read_text(vlb::test::source_dir() + "/" + top)});
  for (const auto& s : files) {
    if (s.rel == "tests/layout/test_layout.cpp") continue;  // the other patterns themselves
    std::istringstream in(s.text);
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      for (const auto& [re, what] : rules)
        EXPECT_FALSE(std::regex_search(line, re)) << s.rel << ":" << line_no << ": " << what;
    }
  }
}

}  // namespace
