// check_in_child / read_isolated (vlb/core/isolation.h): what a reader's crash, hang, runaway
// allocation or error in the child turns into in the parent, and that a file that passed is not
// checked again until it changes.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/core/isolation.h"

namespace fs = std::filesystem;

namespace {

struct IsolationTest : ::testing::Test {
  vlb::test::TempDir tmp;
  fs::path dir = tmp.path();
  fs::path file = dir / "input.bin";
  fs::path log = dir / "calls.log";
  void SetUp() override { std::ofstream(file) << "some bytes"; }
  // Each call of a read appends its pid: the parent and the child are told apart by the count.
  void note_call() const { std::ofstream(log, std::ios::app) << getpid() << "\n"; }
  int calls() const {
    std::ifstream in(log);
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
  std::string message_of(const std::function<void()>& f) const {
    try {
      f();
    } catch (const vlb::DataError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no DataError";
    return "";
  }
};

TEST_F(IsolationTest, AFinishedReadRunsInTheChildThenInTheParentOnlyOnceForAnUnchangedFile) {
  auto read = [&] {
    note_call();
    return 42;
  };
  EXPECT_EQ(vlb::read_isolated(file.string(), "reading", read), 42);
  EXPECT_EQ(calls(), 2);  // child and parent
  EXPECT_EQ(vlb::read_isolated(file.string(), "reading", read), 42);
  EXPECT_EQ(calls(), 3);  // passed before and unchanged: the parent only
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::ofstream(file, std::ios::app) << "more";  // changed: checked again
  EXPECT_EQ(vlb::read_isolated(file.string(), "reading", read), 42);
  EXPECT_EQ(calls(), 5);
}

TEST_F(IsolationTest, ACrashInTheReaderBecomesALocatedDataError) {
  const std::string m = message_of([&] {
    vlb::check_in_child(file.string(), "reading the thing", [] { raise(SIGSEGV); });
  });
  EXPECT_NE(m.find(file.string()), std::string::npos) << m;
  EXPECT_NE(m.find("reading the thing crashed on this file"), std::string::npos) << m;
}

TEST_F(IsolationTest, AnUncaughtAbortInTheReaderIsACrashToo) {
  const std::string m = message_of([&] { vlb::check_in_child(file.string(), "reading", [] { abort(); }); });
  EXPECT_NE(m.find("crashed"), std::string::npos) << m;
}

TEST_F(IsolationTest, AHangIsKilledAtTheTimeLimit) {
  vlb::IsolationOptions o;
  o.seconds = 0.3;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string m = message_of([&] {
    vlb::check_in_child(file.string(), "reading", [] { for (;;) pause(); }, o);
  });
  EXPECT_NE(m.find("gave up after"), std::string::npos) << m;
  EXPECT_NE(m.find(file.string()), std::string::npos) << m;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
}

TEST_F(IsolationTest, ARunawayAllocationStopsAtTheMemoryLimit) {
  vlb::IsolationOptions o;
  o.memory_bytes = 64 << 20;
  const std::string m = message_of([&] {
    vlb::check_in_child(file.string(), "reading", [] {
      std::vector<char> v(size_t(8) << 30, 1);  // 8 GiB
      if (v[12345] != 1) throw std::logic_error("unreachable");
    }, o);
  });
  EXPECT_NE(m.find("needs more than 64 MB"), std::string::npos) << m;
}

TEST_F(IsolationTest, ACheapErrorIsRaisedByTheParentsOwnRunWithItsType) {
  auto read = [&]() -> int {
    note_call();
    throw vlb::ConfigError(file.string(), 3, 4, "key", "bad value");
  };
  EXPECT_THROW(vlb::read_isolated(file.string(), "reading", read), vlb::ConfigError);
  EXPECT_EQ(calls(), 2);
}

TEST_F(IsolationTest, AnExpensiveErrorIsRethrownFromTheChildWithoutRerunning) {
  auto read = [&] {
    note_call();
    const std::clock_t t0 = std::clock();
    volatile double x = 0;  // > 1 CPU second (not wall second), the limit for a cheap failure
    while (static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC < 1.3) x = x + 1;
    throw vlb::DataError(file.string(), "/where", "slow and wrong");
  };
  try {
    vlb::check_in_child(file.string(), "reading", read);
    ADD_FAILURE() << "no error";
  } catch (const vlb::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/where: slow and wrong"), std::string::npos) << e.what();
  }
  EXPECT_EQ(calls(), 1);  // the child only
}

TEST_F(IsolationTest, NoChildForAPathThatIsNotARegularFile) {
  auto read = [&] {
    note_call();
    return 1;
  };
  EXPECT_EQ(vlb::read_isolated((dir / "missing").string(), "reading", read), 1);
  EXPECT_EQ(vlb::read_isolated(dir.string(), "reading", read), 1);
  EXPECT_EQ(calls(), 2);
}

}  // namespace
