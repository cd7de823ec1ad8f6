/*
 * ts_api10: the C glue's door into ATS 10's C++-only plugin API (see
 * ts_api.h).  Compiled only for ATS 10, as C++17, and the only C++ in the
 * plugin.
 *
 * It includes the real <ts/ts.h>, then ts_api.h's tables, and
 *   - checks that the C view in ts_api.h is ATS's: each handle type, enum
 *     value (and enum size), struct (size, and each field's type and offset),
 *     global variable and function signature (static_asserts: a mismatch with
 *     the installed ATS does not compile);
 *   - defines the extern "C" wrappers tb_<name>, each a plain call of ATS's
 *     <name>, plus the few that differ (printf-likes, TSMgmtUpdateRegister,
 *     debug output, the headers' version string).
 * No state but the debug control; thread-safe as ATS is.
 */
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <type_traits>

#include <ts/ts.h>

#include "ts_api.h"

#if !defined(TB_ATS_MAJOR) || TB_ATS_MAJOR < 10 || TS_VERSION_MAJOR < 10
#error "ts_api10.cc is for ATS 10 and later only (the Makefile builds it with -DTB_ATS_MAJOR=10)"
#endif

/* ---- the C view against ATS's headers ----------------------------------- */

#define TB_CHECK_HANDLE(type, tag) static_assert(std::is_same_v<::type, struct tag *>, #type);
TB_HANDLES(TB_CHECK_HANDLE)

#define TB_CHECK_TYPEDEF(type, name) static_assert(std::is_same_v<::name, type>, #name);
TB_TYPEDEFS(TB_CHECK_TYPEDEF)

static_assert(std::is_same_v<TSEventFunc, int (*)(TSCont, TSEvent, void *)>, "TSEventFunc");

/* The enums as C declares them (ts_api.h), to compare their sizes; C and C++
 * size an enum alike (gcc, clang). */
namespace tb_c {
#define TB_C_VALUE(name, value) name = (value),
#define TB_C_ENUM(type) enum type { TB_ENUM_##type(TB_C_VALUE) };
TB_ENUMS(TB_C_ENUM)
} // namespace tb_c

#define TB_CHECK_VALUE(name, value)                                                                          \
  static_assert(::name == (value), #name " has another value in this ATS");                                  \
  static_assert(std::is_same_v<decltype(::name), E>, #name " is in another enum in this ATS");
#define TB_CHECK_ENUM(type)                                                                                  \
  namespace tb_check_##type {                                                                                \
    using E = ::type;                                                                                        \
    static_assert(sizeof(E) == sizeof(tb_c::type), #type " has another size");                               \
    TB_ENUM_##type(TB_CHECK_VALUE)                                                                           \
  }
TB_ENUMS(TB_CHECK_ENUM)

#define TB_CHECK_CONSTANT(name, value) static_assert(::name == (value), #name " has another value");
TB_CONSTANTS(TB_CHECK_CONSTANT)

/* The structs as C declares them; the field types resolve to ATS's here, and
 * the C enums have the sizes of ATS's (above). */
namespace tb_cs {
#define TB_C_FIELD(type, name) type name;
#define TB_C_STRUCT(type)                                                                                    \
  struct type {                                                                                              \
    TB_STRUCT_##type(TB_C_FIELD)                                                                             \
  };
TB_STRUCTS(TB_C_STRUCT)
} // namespace tb_cs

#define TB_CHECK_FIELD(type, name)                                                                           \
  static_assert(offsetof(C, name) == offsetof(S, name), #name " moved");                                     \
  static_assert(std::is_same_v<decltype(C::name), decltype(S::name)>, #name " changed type");
#define TB_CHECK_STRUCT(type)                                                                                \
  namespace tb_check_##type {                                                                                \
    using S = ::type;                                                                                        \
    using C = tb_cs::type;                                                                                   \
    static_assert(std::is_standard_layout_v<S> && std::is_trivially_copyable_v<S>, #type " is not C");       \
    static_assert(sizeof(C) == sizeof(S) && alignof(C) == alignof(S), #type " has another size");            \
    TB_STRUCT_##type(TB_CHECK_FIELD)                                                                         \
  }
TB_STRUCTS(TB_CHECK_STRUCT)

#define TB_CHECK_VARIABLE(type, name) static_assert(std::is_same_v<decltype(::name), type>, #name);
TB_VARIABLES(TB_CHECK_VARIABLE)

/* ---- the wrappers --------------------------------------------------------- */

/* `exact` must be initialised from an ATS function of exactly this
 * signature (an overload set yields that one, or none: no conversions). */
#define TB_WRAPPER(ret, name, params, args)                                                                  \
  ret tb_##name params {                                                                                     \
    constexpr ret(*exact) params = &::name;                                                                  \
    return exact args;                                                                                       \
  }

/* Format a printf-like call's arguments into a local buffer `line`. */
#define TB_FORMAT(fmt)                                                                                       \
  char line[4096];                                                                                           \
  va_list ap;                                                                                                \
  va_start(ap, fmt);                                                                                         \
  vsnprintf(line, sizeof line, fmt, ap);                                                                     \
  va_end(ap)

namespace {
DbgCtl dbg_ctl{TB_TAG};
}

extern "C" {
TB_FUNCTIONS(TB_WRAPPER)

void tb_TSError(const char *fmt, ...) {
  TB_FORMAT(fmt);
  ::TSError("%s", line);
}

void tb_TSNote(const char *fmt, ...) {
  TB_FORMAT(fmt);
  ::TSNote("%s", line);
}

void tb_TSEmergency(const char *fmt, ...) {
  TB_FORMAT(fmt);
  ::TSEmergency("%s", line);
}

TSReturnCode tb_TSTextLogObjectWrite(TSTextLogObject l, const char *fmt, ...) {
  TB_FORMAT(fmt);
  return ::TSTextLogObjectWrite(l, "%s", line);
}

/* 10.x's third argument: a file whose change alone fires the callback; none
 * means every reload, as 9.2's two-argument form. */
void tb_TSMgmtUpdateRegister(TSCont c, const char *name) {
  ::TSMgmtUpdateRegister(c, name, nullptr);
}

int tb_debug_enabled(void) {
  return dbg_ctl.on();
}

void tb_debug(const char *fmt, ...) {
  TB_FORMAT(fmt);
  DbgPrint(dbg_ctl, "%s", line);
}

const char *tb_ats_headers_version(void) {
  return TS_VERSION_STRING;
}
} // extern "C"
