// Deterministic randomness for the simulator. One seed decides everything: every workload and
// every fault class gets its own stream, derived from (seed, stream name), so switching a
// fault class off does not change what the workloads do. The generators and distributions
// are our own (xoshiro256**, splitmix64, Lemire's bounded ints, inverse-CDF / Box-Muller),
// because std:: distributions differ between standard libraries: the same seed must give the
// same tape on every machine.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

namespace bpftape::sim {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Seed of the stream `name` under `seed` (FNV-1a of the name, mixed through splitmix64).
inline uint64_t derive_seed(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  uint64_t state = seed ^ h;
  return splitmix64(state);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) {
    uint64_t s = seed;
    for (auto& word : state_) word = splitmix64(s);
  }
  Rng(uint64_t seed, std::string_view stream) : Rng(derive_seed(seed, stream)) {}

  uint64_t next() {  // xoshiro256**
    uint64_t result = rotl(state_[1] * 5, 7) * 9;
    uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound) (Lemire's multiply-shift; bound > 0).
  uint64_t below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }
  // Uniform in [lo, hi].
  uint64_t between(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  // Uniform in [0, 1) with 53 bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return uniform() < p; }
  // Exponential with the given mean (inter-arrival times of a Poisson process).
  double exponential(double mean) { return -std::log1p(-uniform()) * mean; }
  // Normal via Box-Muller (one value per call: simpler than caching, fast enough).
  double normal(double mean, double stddev) {
    double u1 = uniform(), u2 = uniform();
    double r = std::sqrt(-2.0 * std::log1p(-u1));
    return mean + stddev * r * std::cos(2.0 * M_PI * u2);
  }
  // Log-normal parameterised by its median and sigma (the usual latency shape).
  double lognormal(double median, double sigma) {
    return median * std::exp(normal(0.0, sigma));
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

}  // namespace bpftape::sim
