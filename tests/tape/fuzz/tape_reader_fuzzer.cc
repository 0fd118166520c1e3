// libFuzzer target for the tape reader: any bytes -> open, read every batch, seek, read again.
// The reader must return errors, never crash, hang, leak or allocate beyond its frame cap.
// Built and run by scripts/fuzz-tape (clang, -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/tape/reader.h"

using otlp::ebpf::EventBatch;
using otlp::ebpf::tape::ReaderOptions;
using otlp::ebpf::tape::TapeReader;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ReaderOptions options;
  options.max_frame_bytes = 4u << 20;  // seeds declare 1 MiB; keeps inputs cheap to decode
  options.decode_threads = size % 2 ? 2 : 1;  // exercise both paths
  auto reader = TapeReader::open_memory(std::span<const uint8_t>(data, size), options);
  if (!reader) return 0;
  EventBatch batch;
  uint64_t checksum = 0, middle = 0, events = 0;
  while (true) {
    auto more = (*reader)->next(&batch);
    if (!more || !*more) break;
    for (const auto& e : batch.events) {
      checksum += e.timestamp_ns;
      if (++events % 7 == 0) middle = e.timestamp_ns;
      // Every id an event carries must resolve (the reader promised it).
      if (e.event_type == otlp::ebpf::EbpfEventType::CpuSample) {
        checksum += (*reader)->interns().stack(e.payload.cpu_sample.user_stack).size();
      }
    }
  }
  if (middle != 0 && (*reader)->seek(middle)) {
    while (true) {
      auto more = (*reader)->next(&batch);
      if (!more || !*more) break;
      for (const auto& e : batch.events) {
        if (e.timestamp_ns < middle) __builtin_trap();  // seek's contract
      }
    }
  }
  return static_cast<int>(checksum & 0);
}
