#include "bpf/maps_manager.h"

#include <linux/bpf.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace otlp::ebpf {
namespace {

bpf_map_type kernel_type(MapType type) {
  switch (type) {
    case MapType::Hash: return BPF_MAP_TYPE_HASH;
    case MapType::Array: return BPF_MAP_TYPE_ARRAY;
    case MapType::PerCpuHash: return BPF_MAP_TYPE_PERCPU_HASH;
    case MapType::PerCpuArray: return BPF_MAP_TYPE_PERCPU_ARRAY;
    case MapType::LruHash: return BPF_MAP_TYPE_LRU_HASH;
    case MapType::LruPerCpuHash: return BPF_MAP_TYPE_LRU_PERCPU_HASH;
    case MapType::RingBuf: return BPF_MAP_TYPE_RINGBUF;
    case MapType::StackTrace: return BPF_MAP_TYPE_STACK_TRACE;
    case MapType::PerfEventArray: return BPF_MAP_TYPE_PERF_EVENT_ARRAY;
    case MapType::TaskStorage: return BPF_MAP_TYPE_TASK_STORAGE;
  }
  return BPF_MAP_TYPE_UNSPEC;
}

bool is_per_cpu(MapType type) {
  return type == MapType::PerCpuHash || type == MapType::PerCpuArray ||
         type == MapType::LruPerCpuHash;
}

bool is_array(MapType type) {
  return type == MapType::Array || type == MapType::PerCpuArray;
}

// Maps whose elements user space reads/writes through lookup/update/delete by key.
bool has_elements(MapType type) {
  return type != MapType::RingBuf && type != MapType::PerfEventArray &&
         type != MapType::TaskStorage;  // task storage is keyed by pidfd, not by value
}

std::unexpected<EbpfError> map_error(const std::string& what, int err) {
  if (err == EPERM || err == EACCES) {
    return make_error(ErrorKind::InsufficientPermissions,
                      fmt::format("{}: {} (run as root or grant CAP_BPF)", what,
                                  std::strerror(err)));
  }
  return make_error(ErrorKind::MapOperationFailed, fmt::format("{}: {}", what, std::strerror(err)));
}

const char* op_name(MapOp op) {
  switch (op) {
    case MapOp::Read: return "read";
    case MapOp::Write: return "write";
    case MapOp::Delete: return "delete";
    case MapOp::Iterate: return "iterate";
  }
  return "use";
}

// Reads have nothing to return without a kernel map: a valid request still fails, saying so.
std::unexpected<EbpfError> no_object_to_read(const std::string& name) {
  return make_error(ErrorKind::MapOperationFailed,
                    fmt::format("read '{}': the request is valid, but there is no BPF object "
                                "to read from; load one with EbpfLoader::load and pass the loader",
                                name));
}

}  // namespace

std::string_view map_type_name(MapType type) {
  switch (type) {
    case MapType::Hash: return "hash";
    case MapType::Array: return "array";
    case MapType::PerCpuHash: return "percpu_hash";
    case MapType::PerCpuArray: return "percpu_array";
    case MapType::LruHash: return "lru_hash";
    case MapType::LruPerCpuHash: return "lru_percpu_hash";
    case MapType::RingBuf: return "ringbuf";
    case MapType::StackTrace: return "stack_trace";
    case MapType::PerfEventArray: return "perf_event_array";
    case MapType::TaskStorage: return "task_storage";
  }
  return "unknown";
}

Result<void> MapsManager::register_map(const std::string& name, MapType type, uint32_t key_size,
                                       uint32_t value_size) {
  if (name.empty()) return make_error(ErrorKind::ConfigError, "map name is empty");
  if (type == MapType::RingBuf && (key_size != 0 || value_size != 0)) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("ring buffer map '{}' has no keys or values: register it with "
                                  "key_size 0 and value_size 0", name));
  }
  if (is_array(type) && key_size != 4) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("array map '{}' must have 4-byte (u32 index) keys, got {}",
                                  name, key_size));
  }
  if (type != MapType::RingBuf && (key_size == 0 || value_size == 0)) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("{} map '{}' needs key and value sizes > 0 (got {} and {})",
                                  map_type_name(type), name, key_size, value_size));
  }
  maps_[name] = Spec{type, key_size, value_size};
  return {};
}

Result<MapsManager::Checked> MapsManager::check(MapOp op, const std::string& name,
                                                std::span<const std::byte> key,
                                                std::span<const std::byte> value) const {
  const char* verb = op_name(op);
  auto it = maps_.find(name);
  if (it == maps_.end()) {
    return make_error(ErrorKind::MapOperationFailed,
                      fmt::format("{} '{}': map is not registered; call register_map first", verb,
                                  name));
  }
  const Spec& spec = it->second;
  if (!has_elements(spec.type)) {
    return make_error(ErrorKind::MapOperationFailed,
                      fmt::format("{} '{}': a {} map has no elements user space can {}", verb,
                                  name, map_type_name(spec.type), verb));
  }
  if (op == MapOp::Write && spec.type == MapType::StackTrace) {
    return make_error(ErrorKind::MapOperationFailed,
                      fmt::format("write '{}': stack trace maps are filled by the kernel only",
                                  name));
  }
  if (op == MapOp::Delete && is_array(spec.type)) {
    return make_error(ErrorKind::MapOperationFailed,
                      fmt::format("delete '{}': array elements always exist; write zeros instead",
                                  name));
  }
  if (op != MapOp::Iterate && key.size() != spec.key_size) {
    return make_error(ErrorKind::MapOperationFailed,
                      fmt::format("{} '{}': key is {} bytes, the map has {}-byte keys", verb, name,
                                  key.size(), spec.key_size));
  }
  size_t value_bytes = spec.value_size;
  if (is_per_cpu(spec.type)) {
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return map_error("counting possible CPUs", -cpus);
    value_bytes = static_cast<size_t>(cpus) * ((spec.value_size + 7) / 8 * 8);
  }
  // A per-CPU write takes one value (copied to every CPU) or every CPU's slot.
  if (op == MapOp::Write && value.size() != value_bytes &&
      !(is_per_cpu(spec.type) && value.size() == spec.value_size)) {
    return make_error(ErrorKind::MapOperationFailed,
                      fmt::format("write '{}': value is {} bytes, the map takes {}", name,
                                  value.size(), value_bytes));
  }
  return Checked{&spec, value_bytes};
}

Result<MapsManager::Resolved> MapsManager::resolve(const std::string& name, const Checked& checked,
                                                   EbpfLoader* loader, MapOp op) const {
  const char* verb = op_name(op);
  const Spec& spec = *checked.spec;
  if (loader == nullptr || !loader->is_loaded()) {
    return make_error(ErrorKind::MapOperationFailed,
                      fmt::format("{} '{}': no BPF object loaded; load one with EbpfLoader::load "
                                  "and pass the loader", verb, name));
  }
  bpf_map* map = bpf_object__find_map_by_name(loader->object(), name.c_str());
  if (map == nullptr) {
    std::string known;
    for (const auto& m : loader->map_names()) known += (known.empty() ? "" : ", ") + m;
    return make_error(ErrorKind::MapOperationFailed,
                      fmt::format("{} '{}': the loaded object has no such map (maps: {})", verb,
                                  name, known));
  }
  if (bpf_map__type(map) != kernel_type(spec.type)) {
    return make_error(ErrorKind::MapOperationFailed,
                      fmt::format("{} '{}': registered as {} but the kernel map has type {}", verb,
                                  name, map_type_name(spec.type),
                                  libbpf_bpf_map_type_str(bpf_map__type(map))));
  }
  if (bpf_map__key_size(map) != spec.key_size || bpf_map__value_size(map) != spec.value_size) {
    return make_error(ErrorKind::MapOperationFailed,
                      fmt::format("{} '{}': registered with {}-byte keys and {}-byte values but "
                                  "the kernel map has {} and {}", verb, name, spec.key_size,
                                  spec.value_size, bpf_map__key_size(map),
                                  bpf_map__value_size(map)));
  }
  return Resolved{&spec, map, checked.value_bytes};
}

Result<void> MapsManager::validate(MapOp op, const std::string& name,
                                   std::span<const std::byte> key,
                                   std::span<const std::byte> value) const {
  BPFTAPE_RETURN_IF_ERROR(check(op, name, key, value));
  return {};
}

Result<void> MapsManager::write_map(const std::string& name, std::span<const std::byte> key,
                                    std::span<const std::byte> value, EbpfLoader* loader) {
  BPFTAPE_ASSIGN_OR_RETURN(Checked checked, check(MapOp::Write, name, key, value));
  if (loader == nullptr) return {};  // the seeds' write without an object: validation only
  BPFTAPE_ASSIGN_OR_RETURN(Resolved r, resolve(name, checked, loader, MapOp::Write));
  Bytes buffer;
  std::span<const std::byte> payload = value;
  if (is_per_cpu(r.spec->type) && value.size() == r.spec->value_size &&
      value.size() != r.value_bytes) {
    // One value for every CPU, at the kernel's 8-byte slot stride.
    buffer.assign(r.value_bytes, std::byte{0});
    const size_t stride = (r.spec->value_size + 7) / 8 * 8;
    for (size_t off = 0; off < r.value_bytes; off += stride) {
      std::memcpy(buffer.data() + off, value.data(), value.size());
    }
    payload = buffer;
  }
  if (bpf_map__update_elem(r.map, key.data(), key.size(), payload.data(), payload.size(),
                           BPF_ANY) != 0) {
    return map_error(fmt::format("write '{}'", name), errno);
  }
  return {};
}

Result<Bytes> MapsManager::read_map(const std::string& name, std::span<const std::byte> key,
                                    EbpfLoader* loader) const {
  BPFTAPE_ASSIGN_OR_RETURN(Checked checked, check(MapOp::Read, name, key, {}));
  if (loader == nullptr) return no_object_to_read(name);
  BPFTAPE_ASSIGN_OR_RETURN(Resolved r, resolve(name, checked, loader, MapOp::Read));
  Bytes value(r.value_bytes);
  if (bpf_map__lookup_elem(r.map, key.data(), key.size(), value.data(), value.size(), 0) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return make_error(ErrorKind::MapOperationFailed,
                        fmt::format("read '{}': no entry for this key", name));
    }
    return map_error(fmt::format("read '{}'", name), err);
  }
  return value;
}

Result<void> MapsManager::delete_map(const std::string& name, std::span<const std::byte> key,
                                     EbpfLoader* loader) {
  BPFTAPE_ASSIGN_OR_RETURN(Checked checked, check(MapOp::Delete, name, key, {}));
  if (loader == nullptr) return {};  // validation only, as for write_map
  BPFTAPE_ASSIGN_OR_RETURN(Resolved r, resolve(name, checked, loader, MapOp::Delete));
  if (bpf_map__delete_elem(r.map, key.data(), key.size(), 0) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return make_error(ErrorKind::MapOperationFailed,
                        fmt::format("delete '{}': no entry for this key", name));
    }
    return map_error(fmt::format("delete '{}'", name), err);
  }
  return {};
}

Result<size_t> MapsManager::for_each(
    const std::string& name, EbpfLoader* loader,
    const std::function<void(std::span<const std::byte>, std::span<const std::byte>)>& visit)
    const {
  BPFTAPE_ASSIGN_OR_RETURN(Checked checked, check(MapOp::Iterate, name, {}, {}));
  if (loader == nullptr) return no_object_to_read(name);
  BPFTAPE_ASSIGN_OR_RETURN(Resolved r, resolve(name, checked, loader, MapOp::Iterate));
  Bytes key(r.spec->key_size), next(r.spec->key_size), value(r.value_bytes);
  size_t visited = 0;
  const void* prev = nullptr;  // nullptr asks for the first key
  while (bpf_map__get_next_key(r.map, prev, next.data(), next.size()) == 0) {
    key = next;
    prev = key.data();
    if (bpf_map__lookup_elem(r.map, key.data(), key.size(), value.data(), value.size(), 0) != 0) {
      if (errno == ENOENT) continue;  // deleted meanwhile
      return map_error(fmt::format("iterate '{}'", name), errno);
    }
    visit(key, value);
    ++visited;
  }
  if (errno != ENOENT) return map_error(fmt::format("iterate '{}'", name), errno);
  return visited;
}

}  // namespace otlp::ebpf
