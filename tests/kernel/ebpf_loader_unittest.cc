// EbpfLoader::validate_program on hand-built ELF files, and the loader's no-kernel behaviour.
#include "bpf/ebpf_loader.h"

#include <elf.h>

#include <cstring>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bpf/kernel_probes.h"

namespace otlp::ebpf {
namespace {

using ::testing::HasSubstr;

// A minimal relocatable BPF ELF: sections null, <program>, license, .shstrtab.
struct ElfSpec {
  uint8_t elf_class = ELFCLASS64;
  uint16_t machine = EM_BPF;
  std::string program_section = "raw_tp/sys_enter";
  bool with_license = true;
};

std::vector<std::byte> build_elf(const ElfSpec& spec) {
  std::string names("\0", 1);
  auto add_name = [&](const std::string& n) {
    const uint32_t off = names.size();
    names += n;
    names += '\0';
    return off;
  };
  const uint32_t prog_name = add_name(spec.program_section);
  const uint32_t license_name = add_name(spec.with_license ? "license" : "notlicense");
  const uint32_t shstrtab_name = add_name(".shstrtab");
  const uint8_t code[16] = {0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0};  // r0=0; exit
  const char license[] = "GPL";

  const size_t code_off = sizeof(Elf64_Ehdr);
  const size_t license_off = code_off + sizeof(code);
  const size_t names_off = license_off + sizeof(license);
  const size_t sh_off = (names_off + names.size() + 7) / 8 * 8;
  std::vector<std::byte> out(sh_off + 4 * sizeof(Elf64_Shdr));

  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = spec.elf_class;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_REL;
  eh.e_machine = spec.machine;
  eh.e_version = EV_CURRENT;
  eh.e_shoff = sh_off;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = 4;
  eh.e_shstrndx = 3;
  std::memcpy(out.data(), &eh, sizeof(eh));
  std::memcpy(out.data() + code_off, code, sizeof(code));
  std::memcpy(out.data() + license_off, license, sizeof(license));
  std::memcpy(out.data() + names_off, names.data(), names.size());

  Elf64_Shdr sh[4] = {};
  sh[1].sh_name = prog_name;
  sh[1].sh_type = SHT_PROGBITS;
  sh[1].sh_flags = SHF_ALLOC | SHF_EXECINSTR;
  sh[1].sh_offset = code_off;
  sh[1].sh_size = sizeof(code);
  sh[2].sh_name = license_name;
  sh[2].sh_type = SHT_PROGBITS;
  sh[2].sh_flags = SHF_ALLOC | SHF_WRITE;
  sh[2].sh_offset = license_off;
  sh[2].sh_size = sizeof(license);
  sh[3].sh_name = shstrtab_name;
  sh[3].sh_type = SHT_STRTAB;
  sh[3].sh_offset = names_off;
  sh[3].sh_size = names.size();
  std::memcpy(out.data() + sh_off, sh, sizeof(sh));
  return out;
}

std::string validation_error(const std::vector<std::byte>& bytes) {
  auto r = EbpfLoader::validate_program(bytes);
  if (r) return "ok";
  EXPECT_EQ(r.error().kind(), ErrorKind::FormatError);
  return r.error().message();
}

TEST(EbpfLoaderTest, MinimalBpfElfIsValid) {
  EXPECT_EQ(validation_error(build_elf({})), "ok");
}

TEST(EbpfLoaderTest, BuiltinObjectsAreValid) {
  for (auto name : builtin_bpf_object_names()) {
    auto bytes = builtin_bpf_object(name);
    ASSERT_TRUE(bytes) << name;
    EXPECT_TRUE(EbpfLoader::validate_program(*bytes)) << name;
  }
  EXPECT_FALSE(builtin_bpf_object("nope"));
}

TEST(EbpfLoaderTest, EachMalformationHasItsOwnError) {
  EXPECT_THAT(validation_error({}), HasSubstr("too short"));
  std::vector<std::byte> text(64, std::byte{'x'});
  EXPECT_THAT(validation_error(text), HasSubstr("ELF magic"));
  EXPECT_THAT(validation_error(build_elf({.elf_class = ELFCLASS32})), HasSubstr("ELFCLASS64"));
  EXPECT_THAT(validation_error(build_elf({.machine = EM_X86_64})), HasSubstr("not EM_BPF"));
  EXPECT_THAT(validation_error(build_elf({.program_section = ".text"})),
              HasSubstr("no program sections"));
  EXPECT_THAT(validation_error(build_elf({.with_license = false})), HasSubstr("license"));

  auto truncated = build_elf({});
  truncated.resize(truncated.size() - 10);  // cuts into the section table
  EXPECT_THAT(validation_error(truncated), HasSubstr("truncated or corrupt"));

  auto bad_shstrndx = build_elf({});
  Elf64_Ehdr eh;
  std::memcpy(&eh, bad_shstrndx.data(), sizeof(eh));
  eh.e_shstrndx = 99;
  std::memcpy(bad_shstrndx.data(), &eh, sizeof(eh));
  EXPECT_THAT(validation_error(bad_shstrndx), HasSubstr("out of range"));

  auto big_endian = build_elf({});
  big_endian[EI_DATA] = std::byte{ELFDATA2MSB};
  EXPECT_THAT(validation_error(big_endian), HasSubstr("byte order"));
}

TEST(EbpfLoaderTest, LoadOfInvalidBytesFailsWithoutTouchingTheKernel) {
  EbpfLoader loader(EbpfConfig{}.with_sample_rate(49));
  auto r = loader.load(build_elf({.machine = EM_X86_64}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::FormatError);
  EXPECT_FALSE(loader.is_loaded());
  EXPECT_EQ(loader.config().sample_rate, 49u);
  EXPECT_EQ(loader.object(), nullptr);
  EXPECT_TRUE(loader.program_names().empty());
  loader.unload();  // idempotent on an empty loader
  EXPECT_FALSE(loader.is_loaded());
}

TEST(EbpfLoaderTest, SystemSupportIsCoresReport) {
  EbpfLoader loader;
  const auto report = loader.system_support_report();
  EXPECT_FALSE(report.checks.empty());
  EXPECT_EQ(loader.check_system_support().has_value(), report.can_record());
}

}  // namespace
}  // namespace otlp::ebpf
