/* The library in a few lines: load a model, explain one image with LeGrad and rollout, print the maps.
 *
 *   build/explain-one [MODEL] IMAGE
 *
 * MODEL is a Hugging Face model folder or a hub id (google/vit-base-patch16-224) that transformers has downloaded
 * into its cache: vte_model_load takes both. Without it, the command line's choice: $VITEXPLAIN_MODEL, else
 * weights/vit-base-patch16-224 when it is there, else the model that ships with vitexplain, weights/fashion-vit
 * (run from the repository: explain-one images/fashion/sneaker.png).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "vitexplain.h"

static const char *default_model(void) {
    const char *env = getenv("VITEXPLAIN_MODEL");
    struct stat info;
    if (env && *env) return env;
    if (stat("weights/vit-base-patch16-224", &info) == 0) return "weights/vit-base-patch16-224";
    return "weights/fashion-vit";
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s [MODEL] IMAGE\n", argv[0]);
        return 2;
    }
    const char *model_spec = argc == 3 ? argv[1] : default_model(), *image_path = argv[argc - 1];
    printf("model: %s\n", model_spec);
    vte_error err = {0};
    vte_runtime *rt = vte_runtime_init(NULL, &err); /* default device: first GPU, else CPU */
    vte_model *model = rt ? vte_model_load(rt, model_spec, &err) : NULL;
    vte_session *session = model ? vte_session_init(model, 1, &err) : NULL; /* batch of at most 1 */
    vte_image image = {0};
    float *pixels = NULL;
    int status = 1;
    if (!session || vte_image_load(image_path, &image, &err) != VTE_OK) goto done;

    const vte_model_config *config = vte_model_get_config(model);
    pixels = malloc(vte_preprocess_size(config) * sizeof *pixels); /* CHW float32, the model's input size */
    if (!pixels) goto done;
    if (vte_preprocess(vte_model_get_preprocess(model), config, &image, pixels, &err) != VTE_OK) goto done;

    vte_explain_options options;
    vte_explain_options_default(&options);
    options.methods = VTE_METHOD_BIT(VTE_METHOD_LEGRAD) | VTE_METHOD_BIT(VTE_METHOD_ROLLOUT);
    /* One image, its top class (classes NULL, one target per image). */
    vte_explanation *e = vte_session_explain(session, pixels, 1, NULL, 1, &options, &err);
    if (!e) goto done;

    vte_prediction target = vte_explanation_target(e, 0, 0);
    printf("%s: %s (%.2f)\n", image_path, vte_model_label(model, target.class_id), (double)target.prob);
    vte_method shown[2] = {VTE_METHOD_LEGRAD, VTE_METHOD_ROLLOUT};
    for (int m = 0; m < 2; m++) {
        const float *map = vte_explanation_map(e, 0, 0, shown[m]); /* grid_h x grid_w, in [0, 1] */
        printf("%s:\n", vte_method_title(shown[m]));
        for (int r = 0; r < config->grid_h; r++) {
            for (int c = 0; c < config->grid_w; c++) printf(" %.2f", (double)map[r * config->grid_w + c]);
            printf("\n");
        }
    }
    vte_explanation_free(e);
    status = 0;
done:
    if (status) fprintf(stderr, "%s\n", err.message);
    free(pixels);
    vte_image_free(&image);
    vte_session_free(session);
    vte_model_free(model);
    vte_runtime_free(rt);
    return status;
}
