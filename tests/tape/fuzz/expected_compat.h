// Fuzz build only (scripts/fuzz-tape, clang 14): libstdc++ 12's <expected> needs
// __cpp_concepts >= 202002L, which clang 14 does not claim, so clang sees no std::expected.
// This minimal stand-in provides the subset bpftape uses, so the reader can be compiled with
// clang's -fsanitize=fuzzer instrumentation. Never used by the GCC build (guarded below).
#pragma once

#include <expected>  // defines __cpp_lib_expected where the real one is usable

#if !defined(__cpp_lib_expected)
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace std {

template <class E>
class unexpected {
 public:
  template <class G = E>
    requires(!is_same_v<remove_cvref_t<G>, unexpected>)
  constexpr explicit unexpected(G&& e) : e_(std::forward<G>(e)) {}
  constexpr E& error() & { return e_; }
  constexpr const E& error() const& { return e_; }
  constexpr E&& error() && { return std::move(e_); }

 private:
  E e_;
};
template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E>
class expected {
 public:
  using value_type = T;
  using error_type = E;
  constexpr expected() requires is_default_constructible_v<T> : v_(in_place_index<0>) {}
  template <class U = T>
    requires(!is_same_v<remove_cvref_t<U>, expected> &&
             !is_same_v<remove_cvref_t<U>, unexpected<E>> && is_constructible_v<T, U>)
  constexpr expected(U&& v) : v_(in_place_index<0>, std::forward<U>(v)) {}
  template <class G>
  constexpr expected(const unexpected<G>& u) : v_(in_place_index<1>, u.error()) {}
  template <class G>
  constexpr expected(unexpected<G>&& u) : v_(in_place_index<1>, std::move(u).error()) {}

  constexpr bool has_value() const { return v_.index() == 0; }
  constexpr explicit operator bool() const { return has_value(); }
  constexpr T& operator*() & { return std::get<0>(v_); }
  constexpr const T& operator*() const& { return std::get<0>(v_); }
  constexpr T&& operator*() && { return std::get<0>(std::move(v_)); }
  constexpr T* operator->() { return &std::get<0>(v_); }
  constexpr const T* operator->() const { return &std::get<0>(v_); }
  constexpr T& value() & { return std::get<0>(v_); }
  constexpr const T& value() const& { return std::get<0>(v_); }
  constexpr E& error() & { return std::get<1>(v_); }
  constexpr const E& error() const& { return std::get<1>(v_); }
  constexpr E&& error() && { return std::get<1>(std::move(v_)); }

 private:
  variant<T, E> v_;
};

template <class E>
class expected<void, E> {
 public:
  using value_type = void;
  using error_type = E;
  constexpr expected() = default;
  template <class G>
  constexpr expected(const unexpected<G>& u) : e_(in_place, u.error()) {}
  template <class G>
  constexpr expected(unexpected<G>&& u) : e_(in_place, std::move(u).error()) {}
  constexpr bool has_value() const { return !e_.has_value(); }
  constexpr explicit operator bool() const { return has_value(); }
  constexpr void operator*() const {}
  constexpr E& error() & { return *e_; }
  constexpr const E& error() const& { return *e_; }
  constexpr E&& error() && { return std::move(*e_); }

 private:
  optional<E> e_;
};

}  // namespace std
#endif
