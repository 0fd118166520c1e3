// MapsManager: typed, size-checked access to the maps of a loaded BPF object.
//
// register_map() declares what the caller expects (type, key and value size); every operation
// validates the request against that declaration first, with no kernel involved (the seeds'
// checks: the map is registered, its type supports the operation, key and value sizes match),
// then against the kernel's map of that name in the loader's object, then performs the real
// syscall. Without a loader (the seeds' `None`), write_map and delete_map validate only and
// succeed with nothing written; read_map and for_each validate, then fail saying there is
// nothing to read. validate() is the check alone.
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

enum class MapOp { Read, Write, Delete, Iterate };

class MapsManager {
 public:
  // Errors (ConfigError) for sizes the type cannot have: array keys are 4 bytes, ring buffers
  // have neither keys nor values, hash maps need both.
  Result<void> register_map(const std::string& name, MapType type, uint32_t key_size,
                            uint32_t value_size);
  bool is_registered(const std::string& name) const { return maps_.contains(name); }

  // The checks every operation makes before the kernel: MapOperationFailed naming the
  // mismatch. `value` matters for writes only; `key` for all but Iterate.
  Result<void> validate(MapOp op, const std::string& name, std::span<const std::byte> key,
                        std::span<const std::byte> value = {}) const;

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
  struct Checked {
    const Spec* spec;
    size_t value_bytes;  // kernel value buffer size (per-CPU: slots * rounded size)
  };
  struct Resolved {
    const Spec* spec;
    bpf_map* map;
    size_t value_bytes;
  };
  Result<Checked> check(MapOp op, const std::string& name, std::span<const std::byte> key,
                        std::span<const std::byte> value) const;
  // The kernel's map for a checked request, compared with its registration.
  Result<Resolved> resolve(const std::string& name, const Checked& checked, EbpfLoader* loader,
                           MapOp op) const;

  std::map<std::string, Spec> maps_;
};

}  // namespace otlp::ebpf
