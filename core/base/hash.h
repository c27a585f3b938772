// Non-cryptographic 64-bit hashing for identities and ids (FNV-1a with a final avalanche).
// Stable across versions and machines: event ids depend on it.
#pragma once

#include <cstdint>
#include <string_view>

namespace logship {

class Hash64 {
 public:
  Hash64& Add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      h_ ^= c;
      h_ *= 0x100000001b3ULL;
    }
    return *this;
  }
  Hash64& Add(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h_ ^= (v >> (i * 8)) & 0xff;
      h_ *= 0x100000001b3ULL;
    }
    return *this;
  }
  // splitmix64 finaliser, so similar inputs give unrelated outputs.
  uint64_t Digest() const {
    uint64_t z = h_ + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace logship
