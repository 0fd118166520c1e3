// MapsManager: typed, size-checked access to the maps of a loaded BPF object.
//
// register_map() declares what the caller expects (type, key and value size); every operation
// checks the request against that declaration first (no kernel involved), then against the
// kernel's map of that name in the loader's object, then performs the real syscall.
// Per-CPU maps: a read returns one value slot per possible CPU, each rounded up to 8 bytes
// (the kernel's layout); a write takes either one value (copied to every CPU) or all slots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "bpf/ebpf_loader.h"
#include "core/error.h"

namespace otlp::ebpf {

enum class MapType {
  Hash,
  Array,
  PerCpuHash,
  PerCpuArray,
  LruHash,
  LruPerCpuHash,
  RingBuf,
  StackTrace,
  PerfEventArray,
  TaskStorage,
};
std::string_view map_type_name(MapType type);

using Bytes = std::vector<std::byte>;

class MapsManager {
 public:
  // Errors (ConfigError) for sizes the type cannot have: array keys are 4 bytes, ring buffers
  // have neither keys nor values, hash maps need both.
  Result<void> register_map(const std::string& name, MapType type, uint32_t key_size,
                            uint32_t value_size);
  bool is_registered(const std::string& name) const { return maps_.contains(name); }

  Result<void> write_map(const std::string& name, std::span<const std::byte> key,
                         std::span<const std::byte> value, EbpfLoader* loader = nullptr);
  Result<Bytes> read_map(const std::string& name, std::span<const std::byte> key,
                         EbpfLoader* loader = nullptr) const;
  Result<void> delete_map(const std::string& name, std::span<const std::byte> key,
                          EbpfLoader* loader = nullptr);
  // Visits every (key, value) pair in kernel iteration order. Entries may change meanwhile
  // (the programs keep running): a key deleted between steps is skipped.
  Result<size_t> for_each(const std::string& name, EbpfLoader* loader,
                          const std::function<void(std::span<const std::byte> key,
                                                   std::span<const std::byte> value)>& visit) const;

  // Typed conveniences over the byte API.
  template <typename K, typename V>
  Result<void> write(const std::string& name, const K& key, const V& value, EbpfLoader* loader) {
    return write_map(name, std::as_bytes(std::span(&key, 1)), std::as_bytes(std::span(&value, 1)),
                     loader);
  }

 private:
  struct Spec {
    MapType type;
    uint32_t key_size;
    uint32_t value_size;
  };
  struct Resolved {
    const Spec* spec;
    bpf_map* map;
    size_t value_bytes;  // kernel value buffer size (per-CPU: slots * rounded size)
  };
  Result<Resolved> resolve(const std::string& name, std::span<const std::byte> key,
                           EbpfLoader* loader, const char* op) const;

  std::map<std::string, Spec> maps_;
};

}  // namespace otlp::ebpf
