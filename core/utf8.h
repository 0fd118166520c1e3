// UTF-8 validity (RFC 3629 / Unicode table 3-7: no overlongs, no surrogates, <= U+10FFFF).
// Recordings carry arbitrary bytes (comm, cmdline, payload prefixes); every text output —
// JSON, OTLP strings — must be valid UTF-8, and this is the one place that decides.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace otlp::ebpf {

// Length of the well-formed sequence starting at text[i] (1..4), or 0 if it is not one.
size_t utf8_sequence_length(std::string_view text, size_t i);
// `text` with every byte that does not start a well-formed sequence replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);

}  // namespace otlp::ebpf
