#include "core/sha256.h"

#include <string>

#include <gtest/gtest.h>

namespace otlp::ebpf {
namespace {

// FIPS 180-4 / NIST example vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256::hex(Sha256::hash("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::hex(Sha256::hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::hex(Sha256::hash(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256::hex(Sha256::hash(std::string(1'000'000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Chunked updates across every block-boundary case equal the one-shot hash.
TEST(Sha256Test, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 300; ++i) data += static_cast<char>(i * 7 + 3);
  for (size_t len : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 300}) {
    std::string_view input(data.data(), len);
    for (size_t chunk : {1, 3, 63, 64, 65}) {
      Sha256 h;
      for (size_t off = 0; off < len; off += chunk) h.update(input.substr(off, chunk));
      EXPECT_EQ(h.finish(), Sha256::hash(input)) << "len " << len << " chunk " << chunk;
    }
  }
  Sha256 h;
  h.update("abc");
  (void)h.finish();  // finish resets: the object hashes again from scratch
  h.update("abc");
  EXPECT_EQ(h.finish(), Sha256::hash("abc"));
}

}  // namespace
}  // namespace otlp::ebpf
