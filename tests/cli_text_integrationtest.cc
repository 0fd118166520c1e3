// The CLI's text outputs against a hostile tape (names holding terminal control sequences,
// newlines, C1 characters, invalid UTF-8), its exit status when stdout cannot be written, and
// its rejection of empty event-selection values. Runs the real binary (BPFTAPE_BINARY).
#include <fstream>
#include <regex>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/tape/writer.h"
#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace otlp::ebpf {
namespace {

using testing::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::run_command;
using testing::TempDir;

// What any unprivileged process on a recorded host can call itself: retitle the reader's
// terminal (OSC 0 ... BEL), then clear it (CSI 2J).
const std::string kEvilComm = "\x1b]0;PWN\x07\x1b[2J";
const std::string kEvilCommEscaped = R"(\x1b]0;PWN\x07\x1b[2J)";
constexpr uint32_t kPid = 4242;
constexpr uint64_t kFunction = 0x401000;

CommandResult bpftape(std::vector<std::string> args) {
  args.insert(args.begin(), BPFTAPE_BINARY);
  return run_command(args);
}

// The same with stdout on /dev/full: every write to it fails with ENOSPC.
CommandResult bpftape_to_full_disk(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" >/dev/full",
                                   BPFTAPE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// No byte a terminal acts on: C0 controls other than the line ends the tool writes itself, DEL,
// and the C1 range as UTF-8 (U+0080..U+009F).
void expect_terminal_safe(const std::string& text, const std::string& what) {
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    ASSERT_FALSE((c < 0x20 && c != '\n') || c == 0x7f)
        << what << ": byte " << int(c) << " at " << i << " in:\n"
        << text;
    ASSERT_FALSE(c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xa0)
        << what << ": C1 character at " << i;
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// `text` shows each of `parts` (escaped names), and no line starts with text a name forged.
void expect_shown_on_their_lines(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& part : parts) EXPECT_THAT(text, HasSubstr(part));
  for (const auto& line : lines_of(text)) EXPECT_THAT(line, Not(::testing::StartsWith("forged")));
}

class HostileTapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("hostile.bpftape");
    tape::TapeMetadata m;
    m.tool_version = "test";
    m.hostname = "host\x1b]0;PWN\x07";
    m.kernel_release = "6.1\nforged: kernel line";
    m.boot_id = std::string("boot\x9b") + "2J";  // a lone C1 byte: not UTF-8
    m.cpu_count = 2;
    m.page_size = 4096;
    m.config = EbpfConfig{}.with_syscall_tracing(true);
    m.probes = {{"sys_exit\x1b[2J", "raw_tracepoint", "sys_exit"}};
    m.recording_id = std::string("rec\xc2\x9b") + "2J";  // C1 CSI as a code point
    m.command = {"sh", "-c", "printf '\x1b[2J'"};
    StringId comm = interns_.intern_string(kEvilComm);
    StringId file = interns_.intern_string("/tmp/\x1b[2J\nforged: exec line");
    StackId stack = interns_.intern_stack(std::vector<uint64_t>{kFunction + 0x10});
    auto w = tape::TapeWriter::create(path_, m, interns_, {});
    ASSERT_TRUE(w) << w.error().to_string();
    std::vector<ProcessInfo> procs = {{.pid = kPid,
                                       .ppid = 1,
                                       .comm = kEvilComm,
                                       .exe = "/bin/x\x1b[2J",
                                       .cmdline = {"evil\x1b[31m", "arg\nforged: process line"},
                                       .start_ns = 1}};
    ASSERT_TRUE((*w)->write_processes(procs));
    // A symbol named to break folded stacks: a frame separator, a forged count, a new line.
    std::vector<tape::Mapping> maps = {{kPid, 0x400000, 0x500000, 0, "/bin/x\x1b[2J", ""}};
    std::vector<tape::Symbol> syms = {
        {kPid, kFunction, 0x100, "main\x1b[2J;fake 999\nforged;frame 7"}};
    ASSERT_TRUE((*w)->write_symbols(maps, syms));
    EventBatch b;
    uint64_t ts = 1'000'000'000;
    b.events.push_back(EbpfEvent::process_event(EbpfEventType::ProcessExec, ts, kPid, kPid, 0,
                                                {1, 0, 0, comm, file}));
    for (int i = 0; i < 5; ++i) {
      b.events.push_back(EbpfEvent::syscall_event(ts += 1000, kPid, kPid, 0, {1, 0, 1, 500}));
      b.events.push_back(EbpfEvent::cpu_sample(ts += 1000, kPid, kPid, 0, {stack, 0}));
    }
    b.events.push_back(EbpfEvent::memory_event(EbpfEventType::MemoryAlloc, ts += 1000, kPid, kPid,
                                               0, {0x5555000, 64, 0, stack, MemoryOp::Malloc, {}}));
    // An HTTP exchange whose path holds a C1 CSI (the parser refuses C0 bytes, not these).
    auto net = [&](EbpfEventType type, NetDirection direction, std::string_view payload) {
      NetworkData n{};
      n.socket_id = 0xffff0001;
      n.protocol = NetProtocol::Tcp;
      n.direction = direction;
      n.bytes = static_cast<uint32_t>(payload.size());
      if (!payload.empty()) n.payload = interns_.intern_string(payload);
      return EbpfEvent::network_event(type, ts += 1000, kPid, kPid, 0, n);
    };
    b.events.push_back(net(EbpfEventType::TcpConnect, NetDirection::None, ""));
    b.events.push_back(net(EbpfEventType::NetworkPayload, NetDirection::Send,
                           std::string("GET /a\xc2\x9b") + "2J HTTP/1.1\r\n"));
    b.events.push_back(
        net(EbpfEventType::NetworkPayload, NetDirection::Receive, "HTTP/1.1 200 OK\r\n"));
    ASSERT_TRUE((*w)->append(b));
    ASSERT_TRUE((*w)->close());
  }

  TempDir dir_;
  InternTable interns_;
  std::string path_;
};

TEST_F(HostileTapeTest, InfoEscapesEveryNameFromTheTape) {
  auto r = bpftape({"info", path_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_terminal_safe(r.out, "info");
  expect_shown_on_their_lines(r.out, {kEvilCommEscaped, R"(host\x1b]0;PWN\x07)",
                                      R"(6.1\nforged: kernel line)", R"(boot\x9b2J)",
                                      R"(rec\xc2\x9b2J)", R"(evil\x1b[31m arg\nforged: process line)"});
}

TEST_F(HostileTapeTest, InfoJsonKeepsTheStringsAndEscapesThemForJson) {
  auto r = bpftape({"info", "--json", path_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(R"("comm":"\u001b]0;PWN\u0007\u001b[2J")"));
}

TEST_F(HostileTapeTest, CatEscapesCommAndFileNames) {
  auto r = bpftape({"cat", path_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_terminal_safe(r.out, "cat");
  expect_shown_on_their_lines(r.out,
                              {kEvilCommEscaped, R"(file=/tmp/\x1b[2J\nforged: exec line)"});
  EXPECT_EQ(lines_of(r.out).size(), 15u);  // one line per event, none forged
}

TEST_F(HostileTapeTest, ReportEscapesHostCommSymbolNamesAndHttpPaths) {
  auto r = bpftape({"replay", "--no-progress", path_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_terminal_safe(r.out, "replay");
  expect_shown_on_their_lines(
      r.out, {R"(host host\x1b]0;PWN\x07, kernel 6.1\nforged: kernel line)",
              R"(main\x1b[2J;fake 999\nforged;frame 7)",  // cpu: top functions
              kEvilCommEscaped + " (4242)",               // memory: outstanding by stack
              R"(GET     /a\xc2\x9b2J)"});                // network: http routes
}

TEST_F(HostileTapeTest, FoldedLinesKeepTheirFramesAndCounts) {
  std::string folded = dir_.file("out.folded");
  auto r = bpftape({"convert", "--folded", folded, path_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text = read_file(folded);
  expect_terminal_safe(text, "folded");
  // One stack (comm; the symbol), sampled 5 times: exactly one line, two frames, count 5.
  auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 1u) << text;
  EXPECT_EQ(lines[0], R"(\x1b]0:PWN\x07\x1b[2J;main\x1b[2J:fake_999\nforged:frame_7 5)");
  EXPECT_TRUE(std::regex_match(lines[0], std::regex(R"([^; ]+(;[^; ]+)* [0-9]+)"))) << lines[0];
}

// Every subcommand's stdout, on a full disk: exit 1 and say so (it was exit 0, silently).
TEST_F(HostileTapeTest, AFailedWriteToStdoutFailsEveryCommand) {
  const std::vector<std::vector<std::string>> commands = {
      {"info", path_},
      {"info", "--json", path_},
      {"cat", path_},
      {"cat", "--json", path_},
      {"replay", "--no-progress", path_},
      {"replay", "--no-progress", "--json", path_},
      {"simulate", "--duration", "100ms"},
      {"simulate", "--from", path_},
      {"doctor"},
      {"doctor", "--json"},
      {"info", "--help"},
      {"--help"},
  };
  for (const auto& args : commands) {
    std::string shown = ::testing::PrintToString(args);
    auto normal = bpftape(args);
    ASSERT_FALSE(normal.out.empty()) << shown;
    auto full = bpftape_to_full_disk(args);
    EXPECT_EQ(full.exit_code, normal.exit_code == 0 ? 1 : normal.exit_code) << shown << full.err;
    EXPECT_THAT(full.err, HasSubstr("writing to standard output: No space left on device"))
        << shown;
  }
}

// A reader that goes away (`| head -c 10`) ends the command quietly, as SIGPIPE ends any
// filter, also when the command runs with SIGPIPE ignored (inherited here; record ignores it
// too): no message, and status 141 in the shell, as the default disposition gives. (Ignored, it
// was exit 0: the output was cut short and the status said all was well.)
TEST(ClosedPipeTest, EndsQuietlyBySigpipe) {
  TempDir dir;
  std::string path = dir.file("long.bpftape");
  InternTable interns;
  tape::TapeMetadata m;
  m.tool_version = "test";
  m.cpu_count = 1;
  m.page_size = 4096;
  auto w = tape::TapeWriter::create(path, m, interns, {});
  ASSERT_TRUE(w) << w.error().to_string();
  EventBatch b;
  // ~90 bytes a line: far more than a pipe holds, so the writer meets the closed pipe.
  for (uint64_t i = 0; i < 20'000; ++i) {
    b.events.push_back(EbpfEvent::syscall_event(1'000'000 + i * 1000, 7, 7, 0, {1, 0, 1, 500}));
  }
  ASSERT_TRUE((*w)->append(b));
  ASSERT_TRUE((*w)->close());
  for (const char* disposition : {"", "trap '' PIPE;"}) {
    auto r = run_command({"/bin/bash", "-c",
                          std::string(disposition) + " \"$0\" cat \"$1\" | head -c 10 >/dev/null;"
                                                     " echo \"status=${PIPESTATUS[0]}\"",
                          BPFTAPE_BINARY, path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "") << disposition;
    EXPECT_THAT(r.out, HasSubstr("status=141")) << disposition;
  }
}

// Empty and impossible selection values are usage errors naming the flag (they were accepted,
// selecting nothing: "0 events", exit 0).
TEST_F(HostileTapeTest, EmptySelectionValuesAreUsageErrors) {
  struct Bad {
    std::string flag, value;
  };
  const Bad bad[] = {{"--comm", ""},         {"--comm", "sixteen-chars-xx"},
                     {"--type", ""},         {"--type", "syscall,"},
                     {"--type", ",syscall"}, {"--type", "a,,b"},
                     {"--pid", ""},          {"--pid", "-1"},
                     {"--since", ""},        {"--until", ""},
                     {"--since", "-1s"},     {"--until", "nan"}};
  for (const char* command : {"cat", "replay", "convert"}) {
    for (const auto& b : bad) {
      std::vector<std::string> args = {command, b.flag, b.value, path_};
      if (std::string(command) == "convert") {
        args.insert(args.end(), {"--folded", dir_.file("never.folded")});
      }
      auto r = bpftape(args);
      std::string shown = ::testing::PrintToString(args);
      EXPECT_EQ(r.exit_code, 2) << shown << r.out;
      EXPECT_THAT(r.err, HasSubstr(b.flag + ":")) << shown;
    }
  }
  auto sim = bpftape({"simulate", "--from", path_, "--comm", ""});
  EXPECT_EQ(sim.exit_code, 2) << sim.err;
  EXPECT_THAT(sim.err, HasSubstr("--comm:"));
}

}  // namespace
}  // namespace otlp::ebpf
