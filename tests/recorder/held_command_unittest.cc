// HeldCommand without a cgroup (no root needed): execvp's PATH search done in the parent, exec
// failures seen by the parent, and a command that is never left running or unreaped.
#include "recorder/held_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "tests/temp_dir.h"

namespace bpftape::record {
namespace {

using otlp::ebpf::testing::TempDir;
using ::testing::HasSubstr;

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
}

// Whether a process with this pid exists (a zombie counts: it was not reaped).
bool exists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

TEST(ResolveCommand, SearchesPathInOrderLikeExecvp) {
  TempDir a, b, c;
  write_file(b.file("tool"), "#!/bin/sh\n", 0755);
  write_file(c.file("tool"), "#!/bin/sh\n", 0755);
  write_file(a.file("tool"), "#!/bin/sh\n", 0644);  // not executable: skipped
  const std::string path = a.path() + ":/nonexistent:" + b.path() + ":" + c.path();
  auto found = resolve_command("tool", path.c_str());
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_EQ(*found, b.file("tool"));
}

TEST(ResolveCommand, ShellMessagesForNotFoundAndNotExecutable) {
  TempDir a;
  write_file(a.file("plain"), "data", 0644);
  auto missing = resolve_command("no-such-tool", a.path().c_str());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "cannot run 'no-such-tool': command not found");
  auto denied = resolve_command("plain", a.path().c_str());
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().message(), "cannot run 'plain': Permission denied");
  auto absent = resolve_command("/nonexistent/cmd", "/bin");
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().message(), "cannot run '/nonexistent/cmd': No such file or directory");
  if (geteuid() != 0) {  // root may read a 0644 file but still not execute it
    EXPECT_FALSE(resolve_command(a.file("plain"), nullptr));
  }
  EXPECT_THAT(resolve_command(a.path(), nullptr).error().message(), HasSubstr("Is a directory"));
}

TEST(ResolveCommand, NamesWithASlashAndEmptyPathEntries) {
  TempDir a;
  write_file(a.file("tool"), "#!/bin/sh\n", 0755);
  EXPECT_EQ(resolve_command(a.file("tool"), "/bin").value(), a.file("tool"));
  // An empty PATH entry is the current directory, as for execvp.
  const std::string cwd = std::filesystem::current_path().string();
  std::filesystem::current_path(a.path());
  auto found = resolve_command("tool", "/nonexistent::");
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_EQ(*found, "./tool");
}

TEST(HeldCommand, RunsOnlyWhenStartedAndReportsItsExit) {
  TempDir dir;
  const std::string marker = dir.file("ran");
  auto command = HeldCommand::spawn({"/bin/sh", "-c", "touch " + marker + "; exit 3"}, false);
  ASSERT_TRUE(command) << command.error().to_string();
  usleep(50'000);
  EXPECT_NE(access(marker.c_str(), F_OK), 0) << "ran before start()";
  ASSERT_TRUE((*command)->start());
  while (!(*command)->exited()) usleep(1000);
  EXPECT_EQ(access(marker.c_str(), F_OK), 0);
  EXPECT_EQ(describe_wait_status((*command)->wait_status()), "exited with status 3");
}

TEST(HeldCommand, AScriptWithoutAnInterpreterLineRunsUnderSh) {
  TempDir dir;
  write_file(dir.file("script"), "exit 7\n", 0755);  // execve says ENOEXEC; execvp uses sh
  auto command = HeldCommand::spawn({dir.file("script")}, false);
  ASSERT_TRUE(command) << command.error().to_string();
  ASSERT_TRUE((*command)->start());
  while (!(*command)->exited()) usleep(1000);
  EXPECT_EQ(describe_wait_status((*command)->wait_status()), "exited with status 7");
}

TEST(HeldCommand, AnExecThatFailsIsReportedByStartAndReaped) {
  TempDir dir;
  write_file(dir.file("tool"), "#!/bin/sh\n", 0755);
  auto command = HeldCommand::spawn({dir.file("tool")}, false);
  ASSERT_TRUE(command) << command.error().to_string();
  unlink(dir.file("tool").c_str());  // gone between the PATH search and the execve
  const pid_t pid = (*command)->pid();
  auto started = (*command)->start();
  ASSERT_FALSE(started);
  EXPECT_THAT(started.error().message(), HasSubstr("No such file or directory"));
  EXPECT_FALSE(exists(pid)) << "the failed child was not reaped";
}

TEST(HeldCommand, NeverStartedLeavesNoProcess) {
  TempDir dir;
  const std::string marker = dir.file("ran");
  pid_t pid = 0;
  {
    auto command = HeldCommand::spawn({"/bin/sh", "-c", "touch " + marker}, false);
    ASSERT_TRUE(command) << command.error().to_string();
    pid = (*command)->pid();
  }
  EXPECT_FALSE(exists(pid));
  EXPECT_NE(access(marker.c_str(), F_OK), 0);
}

TEST(HeldCommand, StopEscalatesToSigkillForACommandIgnoringSigterm) {
  TempDir dir;
  const std::string ready = dir.file("ready");
  auto command = HeldCommand::spawn(
      {"/bin/sh", "-c", "trap '' TERM; touch " + ready + "; while :; do sleep 0.05; done"}, false);
  ASSERT_TRUE(command) << command.error().to_string();
  ASSERT_TRUE((*command)->start());
  while (access(ready.c_str(), F_OK) != 0) usleep(1000);  // SIGTERM is ignored from here on
  const pid_t pid = (*command)->pid();
  const auto stopped = (*command)->stop(std::chrono::milliseconds(200));
  EXPECT_EQ(stopped.terminated, 1u);
  EXPECT_TRUE(stopped.killed);
  EXPECT_FALSE(exists(pid));
}

TEST(HeldCommand, DestroyingARunningCommandStopsIt) {
  pid_t pid = 0;
  {
    auto command = HeldCommand::spawn({"/bin/sleep", "1000"}, false);
    ASSERT_TRUE(command) << command.error().to_string();
    ASSERT_TRUE((*command)->start());
    pid = (*command)->pid();
  }
  EXPECT_FALSE(exists(pid));
}

}  // namespace
}  // namespace bpftape::record
