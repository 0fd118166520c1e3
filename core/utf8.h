// UTF-8 validity (RFC 3629 / Unicode table 3-7: no overlongs, no surrogates, <= U+10FFFF).
// Recordings carry arbitrary bytes (comm, cmdline, payload prefixes); every text output —
// JSON, OTLP strings, text for terminals — must be valid UTF-8, and this is the one place that
// decides.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace otlp::ebpf {

// Length of the well-formed sequence starting at text[i] (1..4), or 0 if it is not one.
size_t utf8_sequence_length(std::string_view text, size_t i);
// `text` with every byte that does not start a well-formed sequence replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);

// `text` made safe to print on a terminal, for every string a text output takes from a tape
// (comm, hostname, command lines, symbol and file names, HTTP paths): any process on a recorded
// host can name itself ESC "]0;title" BEL ESC "[2J", and a reader's terminal must not act on it.
// The output, shown literally:
//   - printable UTF-8 is kept as is;
//   - a backslash becomes \\, a newline \n, a tab \t;
//   - every other control character — C0, DEL, and C1 (U+0080..U+009F, which terminals may
//     treat like ESC + a letter) — and every byte that is not well-formed UTF-8 becomes \xNN
//     (lowercase hex), one escape per byte: a C1 character is two (\xc2\x9b);
//   - characters that make text display as other text (bidi embeddings, overrides and
//     isolates, LRM/RLM/ALM, the line and paragraph separators) become \uNNNN (\u202e).
// The escapes are unambiguous: reading them back gives the original bytes. The result holds no
// control character at all, so a line of output stays one line.
std::string terminal_safe(std::string_view text);
// The same, appended to *out.
void append_terminal_safe(std::string* out, std::string_view text);

}  // namespace otlp::ebpf
