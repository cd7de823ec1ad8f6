/*
 * ts_api: the one way the glue reaches the Traffic Server API.  Every file in
 * src/ats includes this instead of <ts/ts.h>; nothing else in the tree knows
 * which ATS it is built for.
 *
 * ATS 9.2 (the default): <ts/ts.h> is C, so this is that header plus one
 * spelling for debug output.
 *
 * ATS 10 (the Makefile passes -DTB_ATS_MAJOR=10): <ts/ts.h> is C++17 only and
 * its functions have C++ linkage.  For C this header declares the handle
 * types, the enum values and structs the glue uses (with the values of 10.2)
 * and, for each function the glue calls, a prototype of an extern "C" wrapper
 * tb_<name> and a macro <name> -> tb_<name>.  The wrappers are defined in
 * ts_api10.cc, the one C++ file, which includes the real <ts/ts.h> and this
 * header's tables and static_asserts that every value, field offset and
 * function signature listed here is ATS's own: a table that drifts from the
 * installed ATS does not compile.  Owns nothing; thread-safe as ATS is.
 */
#ifndef TB_TS_API_H
#define TB_TS_API_H

/* The plugin's name: its debug tag, log name and message tag. */
#define TB_TAG "tls_bridge"

/* The plugin's version, from the VERSION file (the Makefile passes it). */
#ifndef TB_VERSION
#error "TB_VERSION is not defined: build with make, which passes -DTB_VERSION from the VERSION file"
#endif

#if !defined(TB_ATS_MAJOR) || TB_ATS_MAJOR < 10

#include <ts/ts.h>

#define TB_DEBUG_ENABLED() TSIsDebugTagSet(TB_TAG)
#define tb_debug(...) TSDebug(TB_TAG, __VA_ARGS__)
/* The ATS version of the headers the plugin was built with. */
#define TB_ATS_HEADERS_VERSION TS_VERSION_STRING

#else /* ATS 10 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Opaque handles: type, struct tag (the same tags as in ATS's headers). */
#define TB_HANDLES(X)                                                                                        \
  X(TSAction, tsapi_action)                                                                                  \
  X(TSCont, tsapi_cont)                                                                                      \
  X(TSVConn, tsapi_cont)                                                                                     \
  X(TSEventThread, tsapi_event_thread)                                                                       \
  X(TSHostLookupResult, tsapi_hostlookupresult)                                                              \
  X(TSHttpSsn, tsapi_httpssn)                                                                                \
  X(TSHttpTxn, tsapi_httptxn)                                                                                \
  X(TSIOBuffer, tsapi_iobuffer)                                                                              \
  X(TSIOBufferBlock, tsapi_bufferblock)                                                                      \
  X(TSIOBufferReader, tsapi_bufferreader)                                                                    \
  X(TSMBuffer, tsapi_mbuffer)                                                                                \
  X(TSMLoc, tsapi_mloc)                                                                                      \
  X(TSMutex, tsapi_mutex)                                                                                    \
  X(TSSslConnection, tsapi_ssl_obj)                                                                          \
  X(TSTextLogObject, tsapi_textlogobject)                                                                    \
  X(TSVIO, tsapi_vio)

#define TB_TYPEDEFS(X) X(int64_t, TSHRTime) X(int64_t, TSMgmtInt) X(char *, TSMgmtString)

/* Enum types, then for each the values the glue uses: name, value in 10.2. */
#define TB_ENUMS(E)                                                                                          \
  E(TSReturnCode)                                                                                            \
  E(TSEvent)                                                                                                 \
  E(TSHttpHookID)                                                                                            \
  E(TSLifecycleHookID)                                                                                       \
  E(TSHttpStatus)                                                                                            \
  E(TSThreadPool)                                                                                            \
  E(TSIOBufferSizeIndex)                                                                                     \
  E(TSIOBufferWaterMark)                                                                                     \
  E(TSHttpCntlType)                                                                                          \
  E(TSOverridableConfigKey)                                                                                  \
  E(TSConnectType)                                                                                           \
  E(TSRecordDataType)                                                                                        \
  E(TSStatPersistence)                                                                                       \
  E(TSStatSync)
#define TB_ENUM_TSReturnCode(X) X(TS_ERROR, -1) X(TS_SUCCESS, 0)
#define TB_ENUM_TSEvent(X)                                                                                   \
  X(TS_EVENT_IMMEDIATE, 1)                                                                                   \
  X(TS_EVENT_TIMEOUT, 2)                                                                                     \
  X(TS_EVENT_ERROR, 3)                                                                                       \
  X(TS_EVENT_VCONN_READ_READY, 100)                                                                          \
  X(TS_EVENT_VCONN_WRITE_READY, 101)                                                                         \
  X(TS_EVENT_VCONN_READ_COMPLETE, 102)                                                                       \
  X(TS_EVENT_VCONN_WRITE_COMPLETE, 103)                                                                      \
  X(TS_EVENT_VCONN_EOS, 104)                                                                                 \
  X(TS_EVENT_VCONN_INACTIVITY_TIMEOUT, 105)                                                                  \
  X(TS_EVENT_VCONN_ACTIVE_TIMEOUT, 106)                                                                      \
  X(TS_EVENT_NET_CONNECT, 200)                                                                               \
  X(TS_EVENT_NET_CONNECT_FAILED, 201)                                                                        \
  X(TS_EVENT_NET_ACCEPT, 202)                                                                                \
  X(TS_EVENT_NET_ACCEPT_FAILED, 204)                                                                         \
  X(TS_EVENT_HOST_LOOKUP, 500)                                                                               \
  X(TS_EVENT_HTTP_CONTINUE, 60000)                                                                           \
  X(TS_EVENT_HTTP_ERROR, 60001)                                                                              \
  X(TS_EVENT_HTTP_READ_REQUEST_HDR, 60002)                                                                   \
  X(TS_EVENT_HTTP_SEND_RESPONSE_HDR, 60007)                                                                  \
  X(TS_EVENT_HTTP_TXN_CLOSE, 60012)                                                                          \
  X(TS_EVENT_LIFECYCLE_MSG, 60105)
#define TB_ENUM_TSHttpHookID(X)                                                                              \
  X(TS_HTTP_READ_REQUEST_HDR_HOOK, 0) X(TS_HTTP_SEND_RESPONSE_HDR_HOOK, 5) X(TS_HTTP_TXN_CLOSE_HOOK, 10)
#define TB_ENUM_TSLifecycleHookID(X) X(TS_LIFECYCLE_MSG_HOOK, 5)
#define TB_ENUM_TSHttpStatus(X) X(TS_HTTP_STATUS_FORBIDDEN, 403) X(TS_HTTP_STATUS_BAD_GATEWAY, 502)
#define TB_ENUM_TSThreadPool(X) X(TS_THREAD_POOL_NET, 0) X(TS_THREAD_POOL_TASK, 1)
#define TB_ENUM_TSIOBufferSizeIndex(X)                                                                       \
  X(TS_IOBUFFER_SIZE_INDEX_1K, 3) X(TS_IOBUFFER_SIZE_INDEX_4K, 5) X(TS_IOBUFFER_SIZE_INDEX_32K, 8)
#define TB_ENUM_TSIOBufferWaterMark(X)                                                                       \
  X(TS_IOBUFFER_WATER_MARK_UNDEFINED, -1) X(TS_IOBUFFER_WATER_MARK_PLUGIN_VC_DEFAULT, 0)
#define TB_ENUM_TSHttpCntlType(X) X(TS_HTTP_CNTL_SKIP_REMAPPING, 6)
#define TB_ENUM_TSOverridableConfigKey(X)                                                                    \
  X(TS_CONFIG_HTTP_ANONYMIZE_INSERT_CLIENT_IP, 18)                                                           \
  X(TS_CONFIG_HTTP_INSERT_SQUID_X_FORWARDED_FOR, 20)                                                         \
  X(TS_CONFIG_HTTP_TRANSACTION_NO_ACTIVITY_TIMEOUT_IN, 40)                                                   \
  X(TS_CONFIG_HTTP_TRANSACTION_NO_ACTIVITY_TIMEOUT_OUT, 41)                                                  \
  X(TS_CONFIG_HTTP_TRANSACTION_ACTIVE_TIMEOUT_OUT, 42)                                                       \
  X(TS_CONFIG_HTTP_TRANSACTION_ACTIVE_TIMEOUT_IN, 89)                                                        \
  X(TS_CONFIG_HTTP_INSERT_FORWARDED, 103) /* 104 in 9.2 */
#define TB_ENUM_TSConnectType(X) X(TS_CONNECT_PLUGIN, 1)
#define TB_ENUM_TSRecordDataType(X) X(TS_RECORDDATATYPE_INT, 1)
#define TB_ENUM_TSStatPersistence(X) X(TS_STAT_NON_PERSISTENT, 2) /* ignored by 10.x */
#define TB_ENUM_TSStatSync(X) X(TS_STAT_SYNC_SUM, 0)              /* ignored by 10.x */
/* Values of an unnamed enum. */
#define TB_CONSTANTS(X) X(TS_LOG_MODE_ADD_TIMESTAMP, 1)

/* Structs the glue fills or reads: type, then every field in order. */
#define TB_STRUCTS(S) S(TSPluginRegistrationInfo) S(TSPluginMsg) S(TSHttpConnectOptions)
#define TB_STRUCT_TSPluginRegistrationInfo(F)                                                                \
  F(const char *, plugin_name) F(const char *, vendor_name) F(const char *, support_email)
#define TB_STRUCT_TSPluginMsg(F) F(const char *, tag) F(void const *, data) F(size_t, data_size)
#define TB_STRUCT_TSHttpConnectOptions(F)                                                                    \
  F(TSConnectType, connect_type)                                                                             \
  F(struct sockaddr const *, addr)                                                                           \
  F(const char *, tag)                                                                                       \
  F(int64_t, id)                                                                                             \
  F(TSIOBufferSizeIndex, buffer_index)                                                                       \
  F(TSIOBufferWaterMark, buffer_water_mark)

/* ATS's global variables (C++ variables at global scope: their symbols are
 * their plain names, so C links to them directly). */
#define TB_VARIABLES(X)                                                                                      \
  X(const char *, TS_MIME_FIELD_CLIENT_IP)                                                                   \
  X(int, TS_MIME_LEN_CLIENT_IP)                                                                              \
  X(const char *, TS_MIME_FIELD_X_FORWARDED_FOR)                                                             \
  X(int, TS_MIME_LEN_X_FORWARDED_FOR)                                                                        \
  X(const char *, TS_MIME_FIELD_FORWARDED)                                                                   \
  X(int, TS_MIME_LEN_FORWARDED)                                                                              \
  X(const char *, TS_HTTP_METHOD_CONNECT)                                                                    \
  X(int, TS_HTTP_LEN_CONNECT)

/* Functions forwarded unchanged: return type, name, parameters, arguments.
 * ts_api10.cc asserts that each has exactly this signature in ATS. */
#define TB_FUNCTIONS(F)                                                                                      \
  F(void, TSActionCancel, (TSAction a), (a))                                                                 \
  F(const char *, TSConfigDirGet, (void), ())                                                                \
  F(TSCont, TSContCreate, (TSEventFunc f, TSMutex m), (f, m))                                                \
  F(int, TSContCall, (TSCont c, TSEvent e, void *d), (c, e, d))                                              \
  F(void *, TSContDataGet, (TSCont c), (c))                                                                  \
  F(void, TSContDataSet, (TSCont c, void *d), (c, d))                                                        \
  F(void, TSContDestroy, (TSCont c), (c))                                                                    \
  F(TSMutex, TSContMutexGet, (TSCont c), (c))                                                                \
  F(TSAction, TSContScheduleOnPool, (TSCont c, TSHRTime t, TSThreadPool p), (c, t, p))                       \
  F(TSAction, TSContScheduleOnThread, (TSCont c, TSHRTime t, TSEventThread th), (c, t, th))                  \
  F(TSEventThread, TSEventThreadSelf, (void), ())                                                            \
  F(TSReturnCode, TSHandleMLocRelease, (TSMBuffer b, TSMLoc p, TSMLoc l), (b, p, l))                         \
  F(TSAction, TSHostLookup, (TSCont c, const char *h, size_t n), (c, h, n))                                  \
  F(struct sockaddr const *, TSHostLookupResultAddrGet, (TSHostLookupResult r), (r))                         \
  F(TSHttpConnectOptions, TSHttpConnectOptionsGet, (TSConnectType t), (t))                                   \
  F(TSVConn, TSHttpConnectPlugin, (TSHttpConnectOptions * o), (o))                                           \
  F(const char *, TSHttpHdrMethodGet, (TSMBuffer b, TSMLoc h, int *len), (b, h, len))                        \
  F(TSReturnCode, TSHttpHdrUrlGet, (TSMBuffer b, TSMLoc h, TSMLoc * u), (b, h, u))                           \
  F(void, TSHttpHookAdd, (TSHttpHookID id, TSCont c), (id, c))                                               \
  F(struct sockaddr const *, TSHttpTxnClientAddrGet, (TSHttpTxn t), (t))                                     \
  F(TSReturnCode, TSHttpTxnClientReqGet, (TSHttpTxn t, TSMBuffer * b, TSMLoc * h), (t, b, h))                \
  F(TSReturnCode, TSHttpTxnClientRespGet, (TSHttpTxn t, TSMBuffer * b, TSMLoc * h), (t, b, h))               \
  F(TSReturnCode, TSHttpTxnCntlSet, (TSHttpTxn t, TSHttpCntlType c, bool on), (t, c, on))                    \
  F(TSReturnCode, TSHttpTxnConfigIntGet, (TSHttpTxn t, TSOverridableConfigKey k, TSMgmtInt * v), (t, k, v))  \
  F(TSReturnCode, TSHttpTxnConfigIntSet, (TSHttpTxn t, TSOverridableConfigKey k, TSMgmtInt v), (t, k, v))    \
  F(TSReturnCode, TSHttpTxnConfigStringSet, (TSHttpTxn t, TSOverridableConfigKey k, const char *v, int n),   \
    (t, k, v, n))                                                                                            \
  F(void, TSHttpTxnHookAdd, (TSHttpTxn t, TSHttpHookID id, TSCont c), (t, id, c))                            \
  F(void, TSHttpTxnIntercept, (TSCont c, TSHttpTxn t), (c, t))                                               \
  F(int, TSHttpTxnIsInternal, (TSHttpTxn t), (t))                                                            \
  F(const char *, TSHttpTxnPluginTagGet, (TSHttpTxn t), (t))                                                 \
  F(void, TSHttpTxnReenable, (TSHttpTxn t, TSEvent e), (t, e))                                               \
  F(TSHttpSsn, TSHttpTxnSsnGet, (TSHttpTxn t), (t))                                                          \
  F(TSVConn, TSHttpSsnClientVConnGet, (TSHttpSsn s), (s))                                                    \
  F(void, TSHttpTxnStatusSet, (TSHttpTxn t, TSHttpStatus s), (t, s))                                         \
  F(TSIOBufferBlock, TSIOBufferBlockNext, (TSIOBufferBlock b), (b))                                          \
  F(const char *, TSIOBufferBlockReadStart, (TSIOBufferBlock b, TSIOBufferReader r, int64_t * n), (b, r, n)) \
  F(int64_t, TSIOBufferCopy, (TSIOBuffer b, TSIOBufferReader r, int64_t n, int64_t o), (b, r, n, o))         \
  F(void, TSIOBufferDestroy, (TSIOBuffer b), (b))                                                            \
  F(TSIOBufferReader, TSIOBufferReaderAlloc, (TSIOBuffer b), (b))                                            \
  F(int64_t, TSIOBufferReaderAvail, (TSIOBufferReader r), (r))                                               \
  F(TSIOBufferReader, TSIOBufferReaderClone, (TSIOBufferReader r), (r))                                      \
  F(void, TSIOBufferReaderConsume, (TSIOBufferReader r, int64_t n), (r, n))                                  \
  F(void, TSIOBufferReaderFree, (TSIOBufferReader r), (r))                                                   \
  F(TSIOBufferBlock, TSIOBufferReaderStart, (TSIOBufferReader r), (r))                                       \
  F(TSIOBuffer, TSIOBufferSizedCreate, (TSIOBufferSizeIndex i), (i))                                         \
  F(int64_t, TSIOBufferWrite, (TSIOBuffer b, const void *p, int64_t n), (b, p, n))                           \
  F(void, TSLifecycleHookAdd, (TSLifecycleHookID id, TSCont c), (id, c))                                     \
  F(TSReturnCode, TSMgmtIntGet, (const char *n, TSMgmtInt *v), (n, v))                                       \
  F(TSReturnCode, TSMimeHdrFieldAppend, (TSMBuffer b, TSMLoc h, TSMLoc f), (b, h, f))                        \
  F(TSReturnCode, TSMimeHdrFieldCreateNamed, (TSMBuffer b, TSMLoc h, const char *n, int len, TSMLoc *f),     \
    (b, h, n, len, f))                                                                                       \
  F(TSReturnCode, TSMimeHdrFieldDestroy, (TSMBuffer b, TSMLoc h, TSMLoc f), (b, h, f))                       \
  F(TSMLoc, TSMimeHdrFieldFind, (TSMBuffer b, TSMLoc h, const char *n, int len), (b, h, n, len))             \
  F(TSReturnCode, TSMimeHdrFieldValueStringSet,                                                              \
    (TSMBuffer b, TSMLoc h, TSMLoc f, int i, const char *v, int len), (b, h, f, i, v, len))                  \
  F(TSReturnCode, TSMgmtStringGet, (const char *n, TSMgmtString *v), (n, v))                                 \
  F(TSMutex, TSMutexCreate, (void), ())                                                                      \
  F(void, TSMutexLock, (TSMutex m), (m))                                                                     \
  F(void, TSMutexUnlock, (TSMutex m), (m))                                                                   \
  F(TSAction, TSNetConnect, (TSCont c, struct sockaddr const *to), (c, to))                                  \
  F(TSReturnCode, TSPluginRegister, (const TSPluginRegistrationInfo *i), (i))                                \
  F(int, TSStatCreate, (const char *n, TSRecordDataType t, TSStatPersistence p, TSStatSync s), (n, t, p, s)) \
  F(TSReturnCode, TSStatFindName, (const char *n, int *id), (n, id))                                         \
  F(void, TSStatIntDecrement, (int id, TSMgmtInt v), (id, v))                                                \
  F(void, TSStatIntIncrement, (int id, TSMgmtInt v), (id, v))                                                \
  F(void, TSStatIntSet, (int id, TSMgmtInt v), (id, v))                                                      \
  F(TSReturnCode, TSTextLogObjectCreate, (const char *n, int mode, TSTextLogObject *l), (n, mode, l))        \
  F(const char *, TSTrafficServerVersionGet, (void), ())                                                     \
  F(const char *, TSUrlHostGet, (TSMBuffer b, TSMLoc u, int *len), (b, u, len))                              \
  F(int, TSUrlPortGet, (TSMBuffer b, TSMLoc u), (b, u))                                                      \
  F(void, TSVConnClose, (TSVConn v), (v))                                                                    \
  F(TSVConn, TSVConnCreate, (TSEventFunc f, TSMutex m), (f, m))                                              \
  F(int, TSVConnFdGet, (TSVConn v), (v))                                                                     \
  F(TSVIO, TSVConnRead, (TSVConn v, TSCont c, TSIOBuffer b, int64_t n), (v, c, b, n))                        \
  F(void, TSVConnShutdown, (TSVConn v, int r, int w), (v, r, w))                                             \
  F(TSSslConnection, TSVConnSslConnectionGet, (TSVConn v), (v))                                              \
  F(TSVIO, TSVConnWrite, (TSVConn v, TSCont c, TSIOBufferReader r, int64_t n), (v, c, r, n))                 \
  F(TSIOBuffer, TSVIOBufferGet, (TSVIO v), (v))                                                              \
  F(void, TSVIONBytesSet, (TSVIO v, int64_t n), (v, n))                                                      \
  F(int64_t, TSVIONDoneGet, (TSVIO v), (v))                                                                  \
  F(void, TSVIONDoneSet, (TSVIO v, int64_t n), (v, n))                                                       \
  F(int64_t, TSVIONTodoGet, (TSVIO v), (v))                                                                  \
  F(TSIOBufferReader, TSVIOReaderGet, (TSVIO v), (v))                                                        \
  F(void, TSVIOReenable, (TSVIO v), (v))                                                                     \
  F(void, TSfree, (void *p), (p))

#ifndef TS_PRINTFLIKE
#define TS_PRINTFLIKE(fmt, arg) __attribute__((format(printf, fmt, arg)))
#endif

#ifndef __cplusplus /* the C view; ts_api10.cc has ATS's own */
#define TB_C_HANDLE(type, tag) typedef struct tag *type;
#define TB_C_TYPEDEF(type, name) typedef type name;
#define TB_C_VALUE(name, value) name = (value),
#define TB_C_ENUM(type) typedef enum { TB_ENUM_##type(TB_C_VALUE) } type;
#define TB_C_FIELD(type, name) type name;
#define TB_C_STRUCT(type)                                                                                    \
  typedef struct {                                                                                           \
    TB_STRUCT_##type(TB_C_FIELD)                                                                             \
  } type;
#define TB_C_VARIABLE(type, name) extern type name;
TB_HANDLES(TB_C_HANDLE)
TB_TYPEDEFS(TB_C_TYPEDEF)
TB_ENUMS(TB_C_ENUM)
enum { TB_CONSTANTS(TB_C_VALUE) };
typedef int (*TSEventFunc)(TSCont contp, TSEvent event, void *edata);
TB_STRUCTS(TB_C_STRUCT)
TB_VARIABLES(TB_C_VARIABLE)
#define TS_NULL_MLOC ((TSMLoc)0)

/* Defined by the plugin, called by ATS (C linkage in every ATS). */
void TSPluginInit(int argc, const char *argv[]);
#endif

#ifdef __cplusplus
extern "C" {
#endif
#define TB_PROTOTYPE(ret, name, params, args) ret tb_##name params;
TB_FUNCTIONS(TB_PROTOTYPE)
/* Not forwarded unchanged: printf-like (no va_list forms in ATS; the wrapper
 * formats, up to 4 KiB), and TSMgmtUpdateRegister with no file (fires on
 * every `traffic_ctl config reload`, as in 9.2). */
void tb_TSError(const char *fmt, ...) TS_PRINTFLIKE(1, 2);
void tb_TSNote(const char *fmt, ...) TS_PRINTFLIKE(1, 2);
void tb_TSEmergency(const char *fmt, ...) TS_PRINTFLIKE(1, 2);
TSReturnCode tb_TSTextLogObjectWrite(TSTextLogObject l, const char *fmt, ...) TS_PRINTFLIKE(2, 3);
void tb_TSMgmtUpdateRegister(TSCont c, const char *name);
/* Debug output under TB_TAG (ATS 10's DbgCtl). */
int tb_debug_enabled(void);
void tb_debug(const char *fmt, ...) TS_PRINTFLIKE(1, 2);
/* TS_VERSION_STRING of the headers built with: a C++ constant in 10.x, no
 * macro C could see. */
const char *tb_ats_headers_version(void);
#ifdef __cplusplus
}
#endif

#define TB_DEBUG_ENABLED() tb_debug_enabled()
#define TB_ATS_HEADERS_VERSION tb_ats_headers_version()

#ifndef __cplusplus /* the glue's spelling: ATS's names */
#define TSActionCancel tb_TSActionCancel
#define TSConfigDirGet tb_TSConfigDirGet
#define TSContCreate tb_TSContCreate
#define TSContCall tb_TSContCall
#define TSContDataGet tb_TSContDataGet
#define TSContDataSet tb_TSContDataSet
#define TSContDestroy tb_TSContDestroy
#define TSContMutexGet tb_TSContMutexGet
#define TSContScheduleOnPool tb_TSContScheduleOnPool
#define TSContScheduleOnThread tb_TSContScheduleOnThread
#define TSEventThreadSelf tb_TSEventThreadSelf
#define TSHandleMLocRelease tb_TSHandleMLocRelease
#define TSHostLookup tb_TSHostLookup
#define TSHostLookupResultAddrGet tb_TSHostLookupResultAddrGet
#define TSHttpConnectOptionsGet tb_TSHttpConnectOptionsGet
#define TSHttpConnectPlugin tb_TSHttpConnectPlugin
#define TSHttpHdrMethodGet tb_TSHttpHdrMethodGet
#define TSHttpHdrUrlGet tb_TSHttpHdrUrlGet
#define TSHttpHookAdd tb_TSHttpHookAdd
#define TSHttpTxnClientAddrGet tb_TSHttpTxnClientAddrGet
#define TSHttpTxnClientReqGet tb_TSHttpTxnClientReqGet
#define TSHttpTxnCntlSet tb_TSHttpTxnCntlSet
#define TSHttpTxnConfigIntGet tb_TSHttpTxnConfigIntGet
#define TSHttpTxnConfigIntSet tb_TSHttpTxnConfigIntSet
#define TSHttpTxnConfigStringSet tb_TSHttpTxnConfigStringSet
#define TSHttpTxnIntercept tb_TSHttpTxnIntercept
#define TSHttpTxnIsInternal tb_TSHttpTxnIsInternal
#define TSHttpTxnPluginTagGet tb_TSHttpTxnPluginTagGet
#define TSHttpTxnReenable tb_TSHttpTxnReenable
#define TSHttpTxnStatusSet tb_TSHttpTxnStatusSet
#define TSIOBufferBlockNext tb_TSIOBufferBlockNext
#define TSIOBufferBlockReadStart tb_TSIOBufferBlockReadStart
#define TSIOBufferCopy tb_TSIOBufferCopy
#define TSIOBufferDestroy tb_TSIOBufferDestroy
#define TSIOBufferReaderAlloc tb_TSIOBufferReaderAlloc
#define TSIOBufferReaderAvail tb_TSIOBufferReaderAvail
#define TSIOBufferReaderClone tb_TSIOBufferReaderClone
#define TSIOBufferReaderConsume tb_TSIOBufferReaderConsume
#define TSIOBufferReaderFree tb_TSIOBufferReaderFree
#define TSIOBufferReaderStart tb_TSIOBufferReaderStart
#define TSIOBufferSizedCreate tb_TSIOBufferSizedCreate
#define TSIOBufferWrite tb_TSIOBufferWrite
#define TSLifecycleHookAdd tb_TSLifecycleHookAdd
#define TSMimeHdrFieldAppend tb_TSMimeHdrFieldAppend
#define TSMimeHdrFieldCreateNamed tb_TSMimeHdrFieldCreateNamed
#define TSMimeHdrFieldDestroy tb_TSMimeHdrFieldDestroy
#define TSMimeHdrFieldFind tb_TSMimeHdrFieldFind
#define TSMimeHdrFieldValueStringSet tb_TSMimeHdrFieldValueStringSet
#define TSMgmtStringGet tb_TSMgmtStringGet
#define TSMutexCreate tb_TSMutexCreate
#define TSMutexLock tb_TSMutexLock
#define TSMutexUnlock tb_TSMutexUnlock
#define TSNetConnect tb_TSNetConnect
#define TSPluginRegister tb_TSPluginRegister
#define TSStatCreate tb_TSStatCreate
#define TSStatFindName tb_TSStatFindName
#define TSStatIntDecrement tb_TSStatIntDecrement
#define TSStatIntIncrement tb_TSStatIntIncrement
#define TSStatIntSet tb_TSStatIntSet
#define TSTextLogObjectCreate tb_TSTextLogObjectCreate
#define TSTrafficServerVersionGet tb_TSTrafficServerVersionGet
#define TSUrlHostGet tb_TSUrlHostGet
#define TSUrlPortGet tb_TSUrlPortGet
#define TSVConnClose tb_TSVConnClose
#define TSVConnCreate tb_TSVConnCreate
#define TSVConnFdGet tb_TSVConnFdGet
#define TSVConnRead tb_TSVConnRead
#define TSVConnShutdown tb_TSVConnShutdown
#define TSVConnWrite tb_TSVConnWrite
#define TSVIOBufferGet tb_TSVIOBufferGet
#define TSVIONBytesSet tb_TSVIONBytesSet
#define TSVIONDoneGet tb_TSVIONDoneGet
#define TSVIONDoneSet tb_TSVIONDoneSet
#define TSVIONTodoGet tb_TSVIONTodoGet
#define TSVIOReaderGet tb_TSVIOReaderGet
#define TSVIOReenable tb_TSVIOReenable
#define TSfree tb_TSfree
#define TSHttpTxnClientRespGet tb_TSHttpTxnClientRespGet
#define TSHttpTxnHookAdd tb_TSHttpTxnHookAdd
#define TSHttpTxnSsnGet tb_TSHttpTxnSsnGet
#define TSHttpSsnClientVConnGet tb_TSHttpSsnClientVConnGet
#define TSMgmtIntGet tb_TSMgmtIntGet
#define TSVConnSslConnectionGet tb_TSVConnSslConnectionGet
#define TSError tb_TSError
#define TSNote tb_TSNote
#define TSEmergency tb_TSEmergency
#define TSTextLogObjectWrite tb_TSTextLogObjectWrite
#define TSMgmtUpdateRegister tb_TSMgmtUpdateRegister
#endif

#endif /* ATS 10 */
#endif
