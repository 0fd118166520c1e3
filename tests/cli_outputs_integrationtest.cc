// Output files as the CLI writes them (issue 20): an output never destroys an input, never
// replaces a file without --force, never follows a planted symlink, and bad paths fail before
// the work, with exit 2 and nothing written.
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace otlp::ebpf {
namespace {

using ::testing::HasSubstr;
using testing::run_command;
using testing::TempDir;

const std::string kBinary = BPFTAPE_BINARY;
const std::string kShippedTape = std::string(BPFTAPE_SOURCE_DIR) + "/traces/compile.bpftape";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class CliOutputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tape_ = dir_.file("t.bpftape");
    std::filesystem::copy_file(kShippedTape, tape_);
    original_ = read_all(tape_);
    ASSERT_FALSE(original_.empty());
  }
  TempDir dir_;
  std::string tape_;
  std::string original_;
};

TEST_F(CliOutputsTest, NoOutputFlagMayNameTheInputTape) {
  for (const char* flag : {"--folded", "--trace-json", "--pprof", "--otlp-file"}) {
    for (const char* force : {"", "--force"}) {
      std::vector<std::string> argv = {kBinary, "convert", tape_, flag, tape_};
      if (*force) argv.push_back(force);
      auto r = run_command(argv);
      EXPECT_EQ(r.exit_code, 2) << flag << " " << force << ": " << r.err;
      EXPECT_THAT(r.err, HasSubstr("same file as the input")) << flag;
      EXPECT_EQ(read_all(tape_), original_) << flag << " " << force << " damaged the tape";
    }
  }
  // Through another name for the same file, too.
  const std::string alias = dir_.file("alias");
  ASSERT_EQ(link(tape_.c_str(), alias.c_str()), 0);
  auto r = run_command({kBinary, "replay", tape_, "--folded", alias, "-f"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(read_all(tape_), original_);
}

TEST_F(CliOutputsTest, ExistingFilesNeedForceAndBadPathsFailBeforeTheReport) {
  const std::string folded = dir_.file("x.folded");
  std::ofstream(folded) << "keep me";
  auto refused = run_command({kBinary, "replay", tape_, "--folded", folded});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("--force"));
  EXPECT_TRUE(refused.out.empty()) << "the report was printed before the path was checked";
  EXPECT_EQ(read_all(folded), "keep me");

  auto missing = run_command({kBinary, "replay", tape_, "--pprof", dir_.file("no/such/x.pb.gz")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(missing.out.empty());

  auto twice = run_command({kBinary, "convert", tape_, "--folded", dir_.file("a"), "--pprof",
                            dir_.file("a")});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_THAT(twice.err, HasSubstr("same file"));

  auto forced = run_command({kBinary, "convert", tape_, "--folded", folded, "-f"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(read_all(folded), "keep me");
  struct stat st{};
  ASSERT_EQ(stat(folded.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "outputs hold command lines: not world-readable";
}

TEST_F(CliOutputsTest, PlantedSymlinkInSharedDirectoryIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the attack is on root";
  const passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody'";
  const std::string shared = dir_.file("tmp");
  ASSERT_EQ(mkdir(shared.c_str(), 01777), 0);
  ASSERT_EQ(chmod(shared.c_str(), 01777), 0);
  const std::string victim = dir_.file("passwd-like");
  std::ofstream(victim) << "root:x:0:0";
  for (const char* name : {"x.folded", "x.json", "x.pb.gz", "x.otlp"}) {
    const std::string link_path = shared + "/" + name;
    ASSERT_EQ(symlink(victim.c_str(), link_path.c_str()), 0);
    ASSERT_EQ(lchown(link_path.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  }
  const std::pair<const char*, const char*> outputs[] = {
      {"--folded", "x.folded"}, {"--trace-json", "x.json"}, {"--pprof", "x.pb.gz"},
      {"--otlp-file", "x.otlp"}};
  for (const auto& [flag, name] : outputs) {
    auto r = run_command({kBinary, "convert", tape_, flag, shared + "/" + name, "--force"});
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("planted")) << flag;
  }
  // simulate -o and -f: the same rule for tapes.
  const std::string tape_link = shared + "/sim.bpftape";
  ASSERT_EQ(symlink(victim.c_str(), tape_link.c_str()), 0);
  ASSERT_EQ(lchown(tape_link.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  auto sim = run_command({kBinary, "simulate", "--duration", "10ms", "-o", tape_link, "-f", "-q"});
  EXPECT_NE(sim.exit_code, 0);
  EXPECT_THAT(sim.err, HasSubstr("planted"));
  EXPECT_EQ(read_all(victim), "root:x:0:0");
  struct stat st{};
  ASSERT_EQ(stat(victim.c_str(), &st), 0);
  EXPECT_NE(st.st_mode & 0777, 0600u) << "the victim's mode was changed";
}

// Two simulations writing one tape with -f at the same time: the survivor is one whole tape,
// never a file both wrote into (truncate-in-place did that).
TEST_F(CliOutputsTest, ConcurrentForcedWritersLeaveOneWholeTape) {
  const std::string out = dir_.file("same.bpftape");
  std::vector<pid_t> pids;
  for (int seed : {1, 2}) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string seed_text = std::to_string(seed);
      execl(kBinary.c_str(), kBinary.c_str(), "simulate", "--seed", seed_text.c_str(),
            "--duration", "300ms", "-o", out.c_str(), "-f", "-q", static_cast<char*>(nullptr));
      _exit(127);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto info = run_command({kBinary, "info", out});
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_THAT(info.err, ::testing::Not(HasSubstr("warning"))) << info.err;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("t.bpftape", "same.bpftape"));
}

}  // namespace
}  // namespace otlp::ebpf
