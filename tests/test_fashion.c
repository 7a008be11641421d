/* The bundled model (weights/fashion-vit, tools/train_fashion_vit.py) as a newcomer meets it: its predictions on
 * committed Fashion-MNIST test images equal PyTorch's for the same checkpoint (tests/fixtures/fashion, made by
 * tools/make_fashion_fixtures.py), its accuracy there is within one point of what training reported, and without
 * --model or $VITEXPLAIN_MODEL the command line finds it, says so, and explains the bundled sample images.
 *
 * Tolerance: logits of a 4-layer model of a few units, float32 sums in other orders: 1e-4 (+1e-4 relative). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "util/npy.h"

#define BUNDLED VTE_SOURCE_DIR "/weights/fashion-vit"
#define FIXTURES VTE_FIXTURES_DIR "/fashion"
#define MAX_IMAGES 2000

typedef struct labelled {
    char names[MAX_IMAGES][64];
    int classes[MAX_IMAGES];
    int count;
} labelled;

static void read_labels(labelled *l) {
    FILE *f = fopen(FIXTURES "/labels.csv", "r");
    cr_assert_not_null(f, "cannot open %s/labels.csv", FIXTURES);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "image,class\n");
    l->count = 0;
    while (fgets(line, sizeof line, f) && l->count < MAX_IMAGES) {
        char *comma = strchr(line, ',');
        cr_assert_not_null(comma, "bad line %s", line);
        *comma = '\0';
        snprintf(l->names[l->count], sizeof l->names[l->count], "%s", line);
        l->classes[l->count++] = atoi(comma + 1);
    }
    fclose(f);
}

/* The test accuracy training reported (weights/fashion-vit/training.json). */
static double trained_accuracy(void) {
    json_error_t jerr;
    json_t *root = json_load_file(BUNDLED "/training.json", 0, &jerr);
    cr_assert_not_null(root, "training.json: %s", jerr.text);
    double accuracy = json_number_value(json_object_get(root, "test_accuracy"));
    json_decref(root);
    cr_assert(accuracy > 0.5, "no test_accuracy in training.json");
    return accuracy;
}

Test(fashion, predictions_equal_pytorch_and_accuracy_matches_training) {
    static labelled l;
    read_labels(&l);
    cr_assert_geq(l.count, 200, "only %d fixture images", l.count);
    vte_npy reference = {0};
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(VTE_FIXTURES_DIR "/reference/fashion-vit/logits.npy", &reference, &err), VTE_OK, "%s",
                 err.message);
    vte_runtime *rt = vte_test_runtime();
    vte_model *model = vte_model_load(rt, BUNDLED, &err);
    cr_assert_not_null(model, "%s", err.message);
    const vte_model_config *c = vte_model_get_config(model);
    cr_assert_eq(c->num_labels, 10);
    cr_assert_str_eq(vte_model_label(model, 9), "Ankle boot");
    cr_assert_eq((size_t)l.count * 10, reference.count);
    enum { BATCH = 100 };
    vte_session *session = vte_session_init(model, BATCH, &err);
    cr_assert_not_null(session, "%s", err.message);
    const size_t floats = vte_preprocess_size(c);
    float *pixels = malloc(BATCH * floats * sizeof *pixels), *logits = malloc(BATCH * 10 * sizeof *logits);
    int correct = 0, agree = 0;
    for (int start = 0; start < l.count; start += BATCH) {
        const int n = l.count - start < BATCH ? l.count - start : BATCH;
        for (int i = 0; i < n; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/images/%s", FIXTURES, l.names[start + i]);
            vte_image image = {0};
            cr_assert_eq(vte_image_load(path, &image, &err), VTE_OK, "%s", err.message);
            cr_assert_eq(vte_preprocess(vte_model_get_preprocess(model), c, &image, pixels + i * floats, &err), VTE_OK);
            vte_image_free(&image);
        }
        cr_assert_eq(vte_session_forward(session, pixels, n, &err), VTE_OK, "%s", err.message);
        cr_assert_eq(vte_session_read_logits(session, logits, &err), VTE_OK);
        const float *want = (const float *)reference.data + (size_t)start * 10;
        vte_test_assert_close(logits, want, (size_t)n * 10, 1e-4, 1e-4, "bundled model logits vs PyTorch");
        for (int i = 0; i < n; i++) {
            vte_prediction top;
            vte_top_k(logits + i * 10, 10, 1, &top);
            vte_prediction torch_top;
            vte_top_k(want + i * 10, 10, 1, &torch_top);
            agree += top.class_id == torch_top.class_id;
            correct += top.class_id == l.classes[start + i];
        }
    }
    cr_assert_eq(agree, l.count, "%d of %d top classes differ from PyTorch's", l.count - agree, l.count);
    const double accuracy = (double)correct / l.count, trained = trained_accuracy();
    cr_log_info("bundled model: %.4f on %d fixture images, %.4f reported by training", accuracy, l.count, trained);
    cr_assert(fabs(accuracy - trained) <= 0.01, "accuracy %.4f on the fixtures, training reported %.4f", accuracy,
              trained);
    cr_assert_geq(trained, 0.90, "the bundled model must be at least 90%% accurate, training reported %.4f", trained);
    free(pixels);
    free(logits);
    vte_npy_free(&reference);
    vte_session_free(session);
    vte_model_free(model);
    vte_runtime_free(rt);
}

Test(fashion, a_newcomer_without_a_model_gets_the_bundled_one) {
    /* A folder with no weights/ and no images/: the program finds the bundled model and images beside itself. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    vte_test_run *r = vte_test_cli(dir, "-u VITEXPLAIN_MODEL", "--method rollout --batch 4");
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_assert(strncmp(r->err, "model: ", 7) == 0, "the first line names the model: %s", r->err);
    cr_assert(strstr(r->err, "weights/fashion-vit (the model that ships with vitexplain"), "%s", r->err);
    cr_assert(strstr(r->out, "images/fashion/ankle_boot.png \u2192 "), "%s", r->out);
    /* Ten garments, one picture each, enlarged 8x (28 -> 224, nearest neighbour) so that they can be read. */
    static const char *const stems[] = {"t-shirt_top", "trouser", "pullover", "dress", "coat",
                                        "sandal", "shirt", "sneaker", "bag", "ankle_boot"};
    for (int i = 0; i < 10; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/results/rollout/%s_rollout.png", dir, stems[i]);
        vte_image picture = {0};
        vte_error err = {0};
        cr_assert_eq(vte_image_load(path, &picture, &err), VTE_OK, "%s", err.message);
        cr_assert_eq(picture.width, 224, "%s is %dx%d", path, picture.width, picture.height);
        cr_assert_eq(picture.height, 224);
        vte_image_free(&picture);
    }
    /* --quiet says nothing, not even the model. */
    r = vte_test_cli(dir, "-u VITEXPLAIN_MODEL", "explain --method legrad --quiet --out q images-absent-so-fail.png");
    cr_assert_eq(r->status, 1);
    cr_assert_null(strstr(r->err, "model: "), "%s", r->err);
}
