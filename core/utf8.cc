#include "core/utf8.h"

#include <algorithm>

#include <fmt/format.h>

namespace otlp::ebpf {

size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto in = [&](size_t k, unsigned lo, unsigned hi) {
    return k < s.size() && at(k) >= lo && at(k) <= hi;
  };
  unsigned char c = at(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return in(i + 1, 0x80, 0xBF) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;  // no overlong, no surrogate
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;  // <= U+10FFFF
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) && in(i + 3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

std::string to_valid_utf8(std::string_view text) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; })) {
    return std::string(text);  // the common case: ASCII
  }
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

namespace {

// Code points that reorder or break the text around them without being control characters.
bool is_display_changing(char32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

char32_t decode(std::string_view s, size_t i, size_t n) {
  auto b = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k])); };
  switch (n) {
    case 2:
      return (b(0) & 0x1F) << 6 | (b(1) & 0x3F);
    case 3:
      return (b(0) & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F);
    default:
      return (b(0) & 0x07) << 18 | (b(1) & 0x3F) << 12 | (b(2) & 0x3F) << 6 | (b(3) & 0x3F);
  }
}

}  // namespace

void append_terminal_safe(std::string* out, std::string_view text) {
  size_t run = 0;  // start of the pending run of bytes that are printed as they are
  auto flush = [&](size_t end) { out->append(text.substr(run, end - run)); };
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t n = c < 0x80 ? 1 : utf8_sequence_length(text, i);  // 0: not UTF-8
    char32_t cp = n > 1 ? decode(text, i, n) : c;
    bool printable = n > 0 && ((cp >= 0x20 && cp < 0x7F && cp != '\\') ||
                               (cp >= 0xA0 && !is_display_changing(cp)));
    if (printable) {
      i += n;  // stays in the run
      continue;
    }
    flush(i);
    if (n == 0) {
      n = 1;  // a byte that is not UTF-8
      *out += fmt::format("\\x{:02x}", c);
    } else if (cp == '\\') {
      *out += "\\\\";
    } else if (cp == '\n') {
      *out += "\\n";
    } else if (cp == '\t') {
      *out += "\\t";
    } else if (cp >= 0xA0) {
      *out += fmt::format("\\u{:04x}", static_cast<uint32_t>(cp));
    } else {
      // C0, DEL, or a C1 character (each of its two bytes).
      for (size_t k = 0; k < n; ++k) {
        *out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i + k]));
      }
    }
    i += n;
    run = i;
  }
  flush(text.size());
}

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_terminal_safe(&out, text);
  return out;
}

}  // namespace otlp::ebpf
