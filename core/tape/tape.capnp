# The .bpftape schema: one root struct per frame type. See docs/tape.md for the byte layout
# (file header, frame header, trailer) that wraps these messages, and for the bump rules:
#   - adding a field (at the end of a struct, with a new ordinal) or a new frame type is a
#     MINOR bump: old readers ignore what they do not know;
#   - anything else (renumbering, retyping, changing a column encoding, changing framing)
#     is a MAJOR bump: readers refuse majors they do not know.
# Field ordinals are part of the format. Never reuse or renumber them.
@0xd7f0ca0ae1b16908;

$import "/capnp/c++.capnp".namespace("otlp::ebpf::tape::schema");

# ---- Frame type 1: metadata. Always the first frame. ----
struct Metadata {
  formatMajor @0 :UInt16;
  formatMinor @1 :UInt16;
  toolVersion @2 :Text;
  hostname @3 :Text;
  kernelRelease @4 :Text;
  bootId @5 :Text;            # /proc/sys/kernel/random/boot_id: timestamps compare only within one boot
  cpuCount @6 :UInt32;
  pageSize @7 :UInt32;
  clock @8 :ClockReference;
  config @9 :Config;
  probes @10 :List(Probe);
  maxFrameBytes @11 :UInt32;  # copy of the file header's limit
  recordingId @12 :Text;      # caller-chosen, e.g. derived from host+boot+start time
  command @13 :List(Text);    # what was recorded (argv), if a command was run
}

# One simultaneous reading of both clocks: realtime = monotonic - monotonicNs + realtimeNs.
struct ClockReference {
  monotonicNs @0 :UInt64;
  realtimeNs @1 :UInt64;
}

struct Config {
  cpuProfiling @0 :Bool;
  networkTracing @1 :Bool;
  syscallTracing @2 :Bool;
  memoryTracing @3 :Bool;
  sampleRateHz @4 :UInt32;
  durationMs @5 :UInt64;
  maxSamples @6 :UInt64;
}

struct Probe {
  name @0 :Text;     # e.g. "sys_exit"
  kind @1 :Text;     # "tracepoint", "raw_tracepoint", "uprobe", "perf_event", ...
  target @2 :Text;   # e.g. "raw_syscalls:sys_exit" or "/usr/lib/libc.so.6:malloc"
}

# ---- Frame type 2: interned entries, written before the first events frame that uses them.
# Ids are dense: strings get firstStringId, firstStringId+1, ...; same for stacks. ----
struct Interned {
  firstStringId @0 :UInt32;
  strings @1 :List(Data);
  firstStackId @2 :UInt32;
  stacks @3 :List(List(UInt64));   # frame addresses, innermost first
}

# ---- Frame type 3: events and losses, column-encoded (see docs/tape.md "Event encoding").
# Every column is a byte string of LEB128 varints (zigzag where signed) or raw bytes. ----
struct Events {
  eventCount @0 :UInt32;
  lossCount @1 :UInt32;
  baseTimestampNs @2 :UInt64;     # timestamp deltas start from here
  firstTimestampNs @3 :UInt64;    # min/max over events and losses (for the index and info)
  lastTimestampNs @4 :UInt64;
  batchEventCounts @5 :List(UInt32);  # the writer's batch boundaries, in order
  batchLossCounts @6 :List(UInt32);
  # Header columns: one entry per event.
  timestamps @7 :Data;   # zigzag(ts - previous ts), varint
  types @8 :Data;        # one byte per event
  cpus @9 :Data;         # varint
  pids @10 :Data;        # zigzag(pid - previous pid), varint
  tids @11 :Data;        # zigzag(tid - pid), varint
  # Events whose bytes are not reproduced by the column encoding (non-zero reserved or padding
  # bytes) are stored whole: their positions (varint deltas) and 64 raw bytes each.
  verbatimIndex @12 :Data;
  verbatimEvents @13 :Data;
  flags @14 :Data;        # one byte per event
  # Payload columns: one entry per event of the payload kind, in event order.
  cpuUserStack @15 :Data;
  cpuKernelStack @16 :Data;
  sysNr @17 :Data;
  sysRet @18 :Data;       # zigzag
  sysDuration @19 :Data;
  memAddress @20 :Data;   # zigzag(address - previous memory address)
  memSize @21 :Data;
  memOldAddress @22 :Data;
  memStack @23 :Data;
  memOp @24 :Data;        # one byte per event
  procParent @25 :Data;
  procChild @26 :Data;
  procExitCode @27 :Data; # zigzag
  procComm @28 :Data;
  procFilename @29 :Data;
  netSocket @30 :Data;
  netDuration @31 :Data;
  netBytes @32 :Data;
  netEndpoints @33 :Data;
  netPayload @34 :Data;
  netLocalPort @35 :Data;
  netRemotePort @36 :Data;
  netSmall @37 :Data;     # 3 bytes per event: protocol, direction, tcp state
  # Loss columns.
  lossTimestamps @38 :Data;  # zigzag(ts - previous loss ts), first from baseTimestampNs
  lossCpus @39 :Data;
  lossCounts @40 :Data;
  # Payload kinds without fixed columns above (a tracer's kind added since), and any kind a
  # writer chose to store generically: one column per (payload kind, field of its table in
  # core/payload_fields.h), one entry per event of that kind, in event order. A kind that has
  # columns here takes its payload from them, not from its fixed columns.
  extraColumns @41 :List(PayloadColumn);
}

struct PayloadColumn {
  kind @0 :UInt8;    # PayloadKind
  field @1 :UInt8;   # index into the kind's field table
  data @2 :Data;     # one varint per event (zigzag for signed fields)
}

# ---- Frame type 4: process table updates (processes come and go). ----
struct Processes {
  updates @0 :List(ProcessInfo);
}

struct ProcessInfo {
  pid @0 :UInt32;
  ppid @1 :UInt32;
  comm @2 :Text;
  exe @3 :Text;
  cmdline @4 :List(Text);
  startTimeNs @5 :UInt64;   # kernel monotonic
  exitTimeNs @6 :UInt64;    # 0 while running
  exitCode @7 :Int32;
  cgroup @8 :Text;          # cgroup v2 path (format 1.1+; empty when unknown)
  containerId @9 :Text;     # derived from the cgroup path when it names a container
}

# ---- Frame type 5: what names stack frames on another machine. ----
struct Symbols {
  mappings @0 :List(Mapping);
  symbols @1 :List(Symbol);
}

struct Mapping {
  pid @0 :UInt32;          # 0: kernel
  start @1 :UInt64;
  end @2 :UInt64;
  fileOffset @3 :UInt64;
  path @4 :Text;
  buildId @5 :Data;        # GNU build id (usually 20 bytes), empty if none
}

struct Symbol {
  pid @0 :UInt32;          # 0: kernel
  address @1 :UInt64;
  size @2 :UInt64;
  name @3 :Text;
}

# ---- Frame type 6: BPF program run-time stats (kernel.bpf_stats_enabled). ----
struct BpfStats {
  timestampNs @0 :UInt64;
  programs @1 :List(BpfProgramStats);
  # Minor 2. The kernel counted only part of the time (`bpftape record --bpf-stats auto` on a
  # busy machine): runTimeNs/runCount are estimates for the whole recording, scaled from the
  # measured* counters. False: the counters ran throughout and runTimeNs/runCount are exact.
  sampled @2 :Bool;
}

struct BpfProgramStats {
  name @0 :Text;
  programId @1 :UInt32;
  runTimeNs @2 :UInt64;
  runCount @3 :UInt64;
  recursionMisses @4 :UInt64;
  # Minor 2: what the kernel counted while the stats were on (equal to the above unless sampled).
  measuredRunTimeNs @5 :UInt64;
  measuredRunCount @6 :UInt64;
}

# ---- Frame type 7: the index. Always the last frame, followed by the fixed trailer. ----
struct Index {
  frames @0 :List(IndexEntry);
  eventCount @1 :UInt64;
  lossCount @2 :UInt64;     # sum of LossRecord.count
  stringCount @3 :UInt32;
  stackCount @4 :UInt32;
}

struct IndexEntry {
  offset @0 :UInt64;          # file offset of the frame header
  type @1 :UInt8;
  firstTimestampNs @2 :UInt64;  # events frames only
  lastTimestampNs @3 :UInt64;
  eventCount @4 :UInt32;
}
