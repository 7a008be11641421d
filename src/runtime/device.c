/* Device discovery and choice: every device of every platform, in one flat list. */
#include "runtime/internal.h"
#include "runtime/runtime.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void copy_info_string(cl_device_id device, cl_device_info param, char *dst, size_t size) {
    dst[0] = '\0';
    if (clGetDeviceInfo(device, param, size, dst, NULL) != CL_SUCCESS) dst[0] = '\0';
    dst[size - 1] = '\0';
}

static vte_device_type device_type_of(cl_device_type type) {
    if (type & CL_DEVICE_TYPE_GPU) return VTE_DEVICE_GPU;
    if (type & CL_DEVICE_TYPE_CPU) return VTE_DEVICE_CPU;
    if (type & CL_DEVICE_TYPE_ACCELERATOR) return VTE_DEVICE_ACCELERATOR;
    return VTE_DEVICE_OTHER;
}

static vte_status describe_device(cl_platform_id platform, int platform_index, cl_device_id device,
                                  vte_device_info *info, vte_error *err) {
    memset(info, 0, sizeof *info);
    info->platform_index = platform_index;
    clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name, NULL);
    clGetPlatformInfo(platform, CL_PLATFORM_VERSION, sizeof info->platform_version, info->platform_version, NULL);
    info->platform_name[sizeof info->platform_name - 1] = '\0';
    info->platform_version[sizeof info->platform_version - 1] = '\0';
    copy_info_string(device, CL_DEVICE_NAME, info->name, sizeof info->name);
    copy_info_string(device, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    copy_info_string(device, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    copy_info_string(device, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version, sizeof info->opencl_c_version);
    cl_device_type type = 0;
    cl_uint units = 0;
    cl_ulong global_mem = 0, max_alloc = 0;
    size_t max_group = 0;
    VTE_CL_CHECK(err, clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL));
    VTE_CL_CHECK(err, clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL));
    VTE_CL_CHECK(err, clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global_mem, &global_mem, NULL));
    VTE_CL_CHECK(err, clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL));
    VTE_CL_CHECK(err, clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_group, &max_group, NULL));
    info->type = device_type_of(type);
    info->compute_units = units;
    info->global_mem_bytes = global_mem;
    info->max_alloc_bytes = max_alloc;
    info->max_work_group_size = max_group;
    return VTE_OK;
}

/* Calls visit(platform, platform_index, device, flat_index, user) for every device; stops on error. */
typedef vte_status (*device_visitor)(cl_platform_id, int, cl_device_id, int, void *, vte_error *);

static vte_status for_each_device(device_visitor visit, void *user, int *total, vte_error *err) {
    cl_uint platform_count = 0;
    cl_int status = clGetPlatformIDs(0, NULL, &platform_count);
    *total = 0;
    if (status == -1001 /* CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no driver */ || platform_count == 0)
        return vte_error_set(err, VTE_ERR_NO_DEVICE,
                             "no OpenCL platform found: install an OpenCL driver (for the CPU: Debian's "
                             "pocl-opencl-icd; tools/install-deps.sh does it)");
    if (status != CL_SUCCESS) return vte_cl_fail(err, status, "clGetPlatformIDs", __FILE__, __LINE__);
    cl_platform_id *platforms = calloc(platform_count, sizeof *platforms);
    if (!platforms) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory listing platforms");
    vte_status result = VTE_OK;
    status = clGetPlatformIDs(platform_count, platforms, NULL);
    if (status != CL_SUCCESS) {
        result = vte_cl_fail(err, status, "clGetPlatformIDs", __FILE__, __LINE__);
        goto done;
    }
    for (cl_uint p = 0; p < platform_count && result == VTE_OK; p++) {
        cl_uint device_count = 0;
        status = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL, &device_count);
        if (status == CL_DEVICE_NOT_FOUND || device_count == 0) continue; /* an empty platform is not an error */
        if (status != CL_SUCCESS) {
            result = vte_cl_fail(err, status, "clGetDeviceIDs", __FILE__, __LINE__);
            break;
        }
        cl_device_id *devices = calloc(device_count, sizeof *devices);
        if (!devices) {
            result = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory listing devices");
            break;
        }
        status = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, device_count, devices, NULL);
        if (status != CL_SUCCESS) result = vte_cl_fail(err, status, "clGetDeviceIDs", __FILE__, __LINE__);
        for (cl_uint d = 0; d < device_count && result == VTE_OK; d++) {
            result = visit(platforms[p], (int)p, devices[d], *total, user, err);
            (*total)++;
        }
        free(devices);
    }
done:
    free(platforms);
    return result;
}

typedef struct list_state {
    vte_device_info *items;
    size_t capacity;
} list_state;

static vte_status collect_device(cl_platform_id platform, int platform_index, cl_device_id device, int index,
                                 void *user, vte_error *err) {
    list_state *list = user;
    if ((size_t)index >= list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 8;
        vte_device_info *grown = realloc(list->items, capacity * sizeof *grown);
        if (!grown) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory listing devices");
        list->items = grown;
        list->capacity = capacity;
    }
    vte_status status = describe_device(platform, platform_index, device, &list->items[index], err);
    list->items[index].index = index;
    return status;
}

vte_status vte_devices_list(vte_device_info **devices, size_t *count, vte_error *err) {
    list_state list = {0};
    int total = 0;
    *devices = NULL;
    *count = 0;
    vte_status status = for_each_device(collect_device, &list, &total, err);
    if (status != VTE_OK) {
        free(list.items);
        return status;
    }
    if (total == 0) {
        free(list.items);
        return vte_error_set(err, VTE_ERR_NO_DEVICE, "OpenCL platforms exist but none has a device");
    }
    *devices = list.items;
    *count = (size_t)total;
    return VTE_OK;
}

static int contains_case_insensitive(const char *haystack, const char *needle) {
    size_t n = strlen(needle);
    for (; *haystack; haystack++) {
        size_t i = 0;
        while (i < n && haystack[i] && tolower((unsigned char)haystack[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return n == 0;
}

int vte_devices_choose(const vte_device_info *devices, size_t count, const char *request, vte_error *err) {
    if (count == 0) {
        vte_error_set(err, VTE_ERR_NO_DEVICE, "no OpenCL device");
        return -1;
    }
    if (!request || !*request) {
        for (size_t i = 0; i < count; i++)
            if (devices[i].type == VTE_DEVICE_GPU) return (int)i;
        for (size_t i = 0; i < count; i++)
            if (devices[i].type == VTE_DEVICE_CPU) return (int)i;
        return 0;
    }
    char *end = NULL;
    long index = strtol(request, &end, 10);
    if (end != request && *end == '\0') {
        if (index >= 0 && (size_t)index < count) return (int)index;
        vte_error_set(err, VTE_ERR_NO_DEVICE, "device index %ld is out of range: %zu device%s (see `vitexplain devices`)",
                      index, count, count == 1 ? "" : "s");
        return -1;
    }
    vte_device_type wanted_type = 0;
    if (contains_case_insensitive(request, "gpu") && strlen(request) == 3) wanted_type = VTE_DEVICE_GPU;
    if (contains_case_insensitive(request, "cpu") && strlen(request) == 3) wanted_type = VTE_DEVICE_CPU;
    for (size_t i = 0; i < count; i++) {
        if (wanted_type ? devices[i].type == wanted_type : contains_case_insensitive(devices[i].name, request))
            return (int)i;
    }
    vte_error_set(err, VTE_ERR_NO_DEVICE, "no OpenCL device matches '%s' (see `vitexplain devices`)", request);
    return -1;
}

typedef struct find_state {
    int wanted;
    cl_platform_id platform;
    cl_device_id device;
} find_state;

static vte_status find_device(cl_platform_id platform, int platform_index, cl_device_id device, int index,
                              void *user, vte_error *err) {
    (void)platform_index;
    (void)err;
    find_state *state = user;
    if (index == state->wanted) {
        state->platform = platform;
        state->device = device;
    }
    return VTE_OK;
}

/* Used by runtime.c: the platform and device handles of the index-th device in the flat list. */
vte_status vte_device_handles(int index, cl_platform_id *platform, cl_device_id *device, vte_error *err) {
    find_state state = {index, NULL, NULL};
    int total = 0;
    vte_status status = for_each_device(find_device, &state, &total, err);
    if (status != VTE_OK) return status;
    if (!state.device) return vte_error_set(err, VTE_ERR_NO_DEVICE, "device %d disappeared", index);
    *platform = state.platform;
    *device = state.device;
    return VTE_OK;
}
