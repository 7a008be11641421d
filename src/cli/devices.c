/* vitexplain devices: list OpenCL platforms and devices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *type_name(vte_device_type type) {
    switch (type) {
    case VTE_DEVICE_CPU: return "CPU";
    case VTE_DEVICE_GPU: return "GPU";
    case VTE_DEVICE_ACCELERATOR: return "accelerator";
    default: return "other";
    }
}

int cli_devices(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("Usage: vitexplain devices\n\n"
                   "Lists every OpenCL platform and device with its index (for --device), type, compute units,\n"
                   "global memory and OpenCL C version. `*` marks the device chosen by default.\n");
            return EXIT_OK;
        }
        cli_error("devices: unexpected argument '%s'", argv[i]);
        return EXIT_USAGE;
    }
    vte_error err = {0};
    vte_device_info *devices = NULL;
    size_t count = 0;
    if (vte_devices_list(&devices, &count, &err) != VTE_OK) {
        cli_error("%s", err.message);
        return EXIT_SETUP;
    }
    int chosen = vte_devices_choose(devices, count, getenv("VITEXPLAIN_DEVICE"), &err);
    int platform = -1;
    for (size_t i = 0; i < count; i++) {
        const vte_device_info *d = &devices[i];
        if (d->platform_index != platform) {
            platform = d->platform_index;
            printf("Platform %d: %s (%s)\n", platform, d->platform_name, d->platform_version);
        }
        printf("%c [%d] %s\n", (int)i == chosen ? '*' : ' ', d->index, d->name);
        printf("      vendor %s, type %s, %u compute units, %.1f GiB global memory, %s, driver %s\n", d->vendor,
               type_name(d->type), d->compute_units, d->global_mem_bytes / (1024.0 * 1024.0 * 1024.0),
               d->opencl_c_version, d->driver_version);
    }
    free(devices);
    return EXIT_OK;
}
