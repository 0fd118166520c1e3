// OutputFile: the rules every output of bpftape follows (core/output_file.h), each checked
// against the file system as an attacker or a careless user would arrange it.
#include "core/output_file.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/temp_dir.h"

namespace otlp::ebpf {
namespace {

using ::testing::HasSubstr;
using otlp::ebpf::testing::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Names in `dir`, so a test can see that no temporary file was left behind.
std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(OutputFileTest, AppearsOnlyWhenFinishedWithMode0600) {
  TempDir dir;
  const std::string path = dir.file("out.folded");
  auto file = OutputFile::create(path, {});
  ASSERT_TRUE(file) << file.error().message();
  ASSERT_TRUE(file->write("main;work 3\n"));
  EXPECT_FALSE(std::filesystem::exists(path)) << "visible before finish()";
  ASSERT_TRUE(file->finish());
  EXPECT_EQ(read_all(path), "main;work 3\n");
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"out.folded"});
}

TEST(OutputFileTest, AbandonedFileLeavesNothing) {
  TempDir dir;
  {
    auto file = OutputFile::create(dir.file("out"), {});
    ASSERT_TRUE(file);
    ASSERT_TRUE(file->write("partial"));
  }
  EXPECT_TRUE(entries(dir.path()).empty());
}

TEST(OutputFileTest, RefusesExistingFileWithoutOverwrite) {
  TempDir dir;
  const std::string path = dir.file("out");
  write_all(path, "precious");
  auto file = OutputFile::create(path, {});
  ASSERT_FALSE(file);
  EXPECT_THAT(file.error().message(), HasSubstr("--force"));
  EXPECT_EQ(read_all(path), "precious");
  EXPECT_FALSE(check_output_path(path, {}));
}

TEST(OutputFileTest, FileCreatedMeanwhileIsNotReplacedWithoutOverwrite) {
  TempDir dir;
  const std::string path = dir.file("out");
  auto file = OutputFile::create(path, {});
  ASSERT_TRUE(file);
  write_all(path, "someone else's");  // appears between the check and the rename
  ASSERT_TRUE(file->write("ours"));
  auto finished = file->finish();
  ASSERT_FALSE(finished);
  EXPECT_THAT(finished.error().message(), HasSubstr("appeared"));
  EXPECT_EQ(read_all(path), "someone else's");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"out"});
}

TEST(OutputFileTest, OverwriteReplacesTheFileAndTightensNothingElse) {
  TempDir dir;
  const std::string path = dir.file("out");
  write_all(path, "old contents, longer than the new");
  chmod(path.c_str(), 0644);
  OutputFileOptions options;
  options.overwrite = true;
  auto file = OutputFile::create(path, options);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->write("new"));
  ASSERT_TRUE(file->finish());
  EXPECT_EQ(read_all(path), "new");
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(OutputFileTest, NeverWritesOverAnInputWhateverThePathSays) {
  TempDir dir;
  const std::string input = dir.file("t.bpftape");
  write_all(input, "tape bytes");
  ASSERT_EQ(link(input.c_str(), dir.file("hardlink").c_str()), 0);
  ASSERT_EQ(symlink(input.c_str(), dir.file("symlink").c_str()), 0);
  OutputFileOptions options;
  options.overwrite = true;  // even with --force
  options.inputs = {input};
  for (const std::string& name : {input, dir.file("hardlink"), dir.file("symlink"),
                                  dir.path() + "/./t.bpftape"}) {
    auto file = OutputFile::create(name, options);
    ASSERT_FALSE(file) << name;
    EXPECT_THAT(file.error().message(), HasSubstr("same file as the input")) << name;
  }
  EXPECT_EQ(read_all(input), "tape bytes");
}

TEST(OutputFileTest, ReplacesASymlinkNeverItsTarget) {
  TempDir dir;
  const std::string target = dir.file("target");
  write_all(target, "root-owned data");
  const std::string link_path = dir.file("out");
  ASSERT_EQ(symlink(target.c_str(), link_path.c_str()), 0);
  OutputFileOptions options;
  options.overwrite = true;
  auto file = OutputFile::create(link_path, options);
  ASSERT_TRUE(file) << file.error().message();
  ASSERT_TRUE(file->write("output"));
  ASSERT_TRUE(file->finish());
  EXPECT_EQ(read_all(target), "root-owned data");
  struct stat st{};
  ASSERT_EQ(lstat(link_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the link was replaced by the output";
  EXPECT_EQ(read_all(link_path), "output");
}

// A symlink planted by another user in a sticky, world-writable directory (/tmp) is refused even
// where fs.protected_symlinks is 0, and even when it points at a device (which is written in
// place and therefore would be followed).
TEST(OutputFileTest, RefusesSymlinkPlantedByAnotherUserInASharedDirectory) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to plant a link owned by another user";
  const passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody'";
  TempDir dir;
  const std::string shared = dir.file("shared");
  ASSERT_EQ(mkdir(shared.c_str(), 0777), 0);
  ASSERT_EQ(chmod(shared.c_str(), 01777), 0);
  const std::string victim = dir.file("victim");
  write_all(victim, "root-owned");
  const std::string planted = shared + "/x.folded";
  ASSERT_EQ(symlink(victim.c_str(), planted.c_str()), 0);
  ASSERT_EQ(lchown(planted.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  const std::string to_device = shared + "/dev";
  ASSERT_EQ(symlink("/dev/null", to_device.c_str()), 0);
  ASSERT_EQ(lchown(to_device.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  // A directory symlink on the way counts too.
  const std::string dir_link = shared + "/d";
  ASSERT_EQ(symlink(dir.path().c_str(), dir_link.c_str()), 0);
  ASSERT_EQ(lchown(dir_link.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  OutputFileOptions options;
  options.overwrite = true;
  for (const std::string& path : {planted, to_device, dir_link + "/new.folded"}) {
    auto file = OutputFile::create(path, options);
    ASSERT_FALSE(file) << path;
    EXPECT_THAT(file.error().message(), HasSubstr("planted")) << path;
  }
  EXPECT_EQ(read_all(victim), "root-owned");
  EXPECT_FALSE(std::filesystem::exists(dir.file("new.folded")));
  // Our own link in the same directory is trusted.
  const std::string own = shared + "/own";
  ASSERT_EQ(symlink("/dev/null", own.c_str()), 0);
  auto file = OutputFile::create(own, {});
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_TRUE(file->finish());
}

TEST(OutputFileTest, SpecialFilesAreWrittenInPlace) {
  auto null = OutputFile::create("/dev/null", {});  // no --force needed
  ASSERT_TRUE(null) << null.error().message();
  EXPECT_FALSE(null->is_regular());
  ASSERT_TRUE(null->write("discarded"));
  EXPECT_TRUE(null->finish());
  // A full device: the error is returned, not swallowed.
  auto full = OutputFile::create("/dev/full", {});
  ASSERT_TRUE(full);
  auto std_stream = full->stream();
  ASSERT_TRUE(std_stream);
  std::fputs("x", *std_stream);
  EXPECT_FALSE(full->finish());
}

TEST(OutputFileTest, FifoWithoutReaderFailsAtOnceAndWithReaderIsWritten) {
  TempDir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto lonely = OutputFile::create(fifo, {});
  ASSERT_FALSE(lonely);
  EXPECT_THAT(lonely.error().message(), HasSubstr("nobody reads"));

  std::string received;
  std::thread reader([&] { received = read_all(fifo); });
  Result<OutputFile> file = make_error(ErrorKind::Io, "not yet");
  for (int attempt = 0; attempt < 1000 && !file; ++attempt) {  // until the reader has opened it
    file = OutputFile::create(fifo, {});
    if (!file) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(file) << file.error().message();
  ASSERT_TRUE(file->write("through the pipe"));
  ASSERT_TRUE(file->finish());
  reader.join();
  EXPECT_EQ(received, "through the pipe");
}

TEST(OutputFileTest, RefusesDirectoriesAndMissingDirectories) {
  TempDir dir;
  auto is_dir = OutputFile::create(dir.path(), {});
  ASSERT_FALSE(is_dir);
  EXPECT_THAT(is_dir.error().message(), HasSubstr("is a directory"));
  auto missing = OutputFile::create(dir.file("no/such/dir/out"), {});
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message(), HasSubstr("no/such/dir"));
  EXPECT_FALSE(OutputFile::create("", {}));
}

TEST(OutputFileTest, PublishedEarlyIsVisibleWhileWritingAndSurvivesAFailedFinish) {
  TempDir dir;
  const std::string path = dir.file("t.bpftape");
  auto file = OutputFile::create(path, {});
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->write("header"));
  ASSERT_TRUE(file->publish());
  ASSERT_TRUE(file->publish());  // idempotent
  EXPECT_EQ(read_all(path), "header");
  ASSERT_TRUE(file->write("+frames"));
  file->discard();  // a published file keeps what reached it
  EXPECT_EQ(read_all(path), "header+frames");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"t.bpftape"});
}

// Two runs writing one path with --force each write their own file; the survivor is one of
// them, whole — never both interleaved, as truncating in place would give.
TEST(OutputFileTest, ConcurrentWritersNeverMix) {
  TempDir dir;
  const std::string path = dir.file("out");
  OutputFileOptions options;
  options.overwrite = true;
  auto a = OutputFile::create(path, options);
  auto b = OutputFile::create(path, options);
  ASSERT_TRUE(a && b);
  const std::string text_a(100000, 'a'), text_b(50000, 'b');
  ASSERT_TRUE(a->write(text_a.substr(0, 50000)));
  ASSERT_TRUE(b->write(text_b));
  ASSERT_TRUE(b->finish());
  ASSERT_TRUE(a->write(text_a.substr(50000)));
  ASSERT_TRUE(a->finish());
  EXPECT_EQ(read_all(path), text_a);
}

}  // namespace
}  // namespace otlp::ebpf
