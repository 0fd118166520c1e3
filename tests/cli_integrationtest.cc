// The bpftape binary as a user meets it: help, version, usage errors, doctor.
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/run_command.h"

namespace otlp::ebpf {
namespace {

using testing::run_command;
using testing::run_command_unprivileged;

const std::string kBinary = BPFTAPE_BINARY;

TEST(CliTest, HelpListsCommandsAndExitsZero) {
  auto r = run_command({kBinary, "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("usage: bpftape"), std::string::npos);
  EXPECT_NE(r.out.find("doctor"), std::string::npos);
}

TEST(CliTest, NoArgumentsPrintsHelpAndExitsUsage) {
  auto r = run_command({kBinary});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("usage: bpftape"), std::string::npos);
}

TEST(CliTest, VersionPrintsProjectVersion) {
  auto r = run_command({kBinary, "--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string("bpftape ") + BPFTAPE_VERSION + "\n");
}

TEST(CliTest, UnknownCommandIsOneLineAndExitTwo) {
  auto r = run_command({kBinary, "frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "bpftape: unknown command 'frobnicate' (see 'bpftape --help')\n");
}

TEST(CliTest, DoctorRejectsUnknownOptionsAndArguments) {
  auto r = run_command({kBinary, "doctor", "--jsn"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "bpftape doctor: unknown option '--jsn' (see 'bpftape doctor --help')\n");
  auto extra = run_command({kBinary, "doctor", "now"});
  EXPECT_EQ(extra.exit_code, 2);
  EXPECT_NE(extra.err.find("unexpected argument 'now'"), std::string::npos);
  auto valued = run_command({kBinary, "doctor", "--json=yes"});
  EXPECT_EQ(valued.exit_code, 2);
  EXPECT_NE(valued.err.find("takes no value"), std::string::npos);
}

TEST(CliTest, DoctorHelpExplainsExitStatus) {
  auto r = run_command({kBinary, "doctor", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--json"), std::string::npos);
  EXPECT_NE(r.out.find("exit status"), std::string::npos);
}

TEST(CliTest, DoctorJsonIsOneObjectWhoseVerdictMatchesExitCode) {
  auto r = run_command({kBinary, "doctor", "--json"});
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_EQ(r.out.substr(r.out.size() - 2), "}\n");
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
  bool says_ok = r.out.find("\"can_record\":true") != std::string::npos;
  EXPECT_EQ(says_ok, r.exit_code == 0);
  for (const char* name : {"kernel_version", "btf", "cap_bpf", "cap_perfmon", "cap_sys_admin",
                           "bpf_syscall", "ringbuf", "perf_event", "tracepoints", "uprobes",
                           "kprobes", "tracefs"}) {
    EXPECT_NE(r.out.find(std::string("\"name\":\"") + name + "\""), std::string::npos) << name;
  }
}

TEST(CliTest, DoctorAsRootOnThisMachineSaysRecordingWorks) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: checks the privileged verdict";
  auto r = run_command({kBinary, "doctor"});
  if (r.exit_code != 0) {
    // Root on a kernel without BPF support: the report must say which check failed.
    EXPECT_NE(r.out.find("recording will NOT work"), std::string::npos) << r.out;
    GTEST_SKIP() << "this kernel cannot record even as root:\n" << r.out;
  }
  EXPECT_NE(r.out.find("verdict: recording works"), std::string::npos) << r.out;
}

TEST(CliTest, DoctorUnprivilegedSaysWhatIsMissingAndFails) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to user nobody";
  auto r = run_command_unprivileged({kBinary, "doctor"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("missing  cap_bpf"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("missing  bpf_syscall"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("grant CAP_BPF,CAP_PERFMON"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recording will NOT work"), std::string::npos) << r.out;
}

// `simulate --from`: the capacity model on a shipped recording, and its usage errors.
TEST(CliTest, CapacityModelOnAShippedTapeAndItsUsageErrors) {
  const std::string tape = std::string(BPFTAPE_SOURCE_DIR) + "/traces/leak.bpftape";
  auto r = run_command({kBinary, "simulate", "--from", tape, "--ring-size", "4K,1M", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"records\":3012"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"label\":\"ring 4.0 KiB\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"label\":\"ring 1.0 MiB\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"bpf_stats\":true"), std::string::npos) << "a real recording has BPF stats";

  auto help = run_command({kBinary, "simulate", "--from", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Capacity model"), std::string::npos);
  auto bad_size = run_command({kBinary, "simulate", "--from", tape, "--ring-size", "3K"});
  EXPECT_EQ(bad_size.exit_code, 2);
  EXPECT_NE(bad_size.err.find("--ring-size"), std::string::npos) << bad_size.err;
  auto scenario = run_command({kBinary, "simulate", "--from", tape, "--scenario", "web"});
  EXPECT_EQ(scenario.exit_code, 2) << "simulation flags do not apply to the model";
  auto missing = run_command({kBinary, "simulate", "--from", "/nonexistent.bpftape"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("No such file"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace otlp::ebpf
