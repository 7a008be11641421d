/* Patch embedding helpers for the ViT input stage (float32, OpenCL C 1.2).
 * The patch projection itself (Conv2d with kernel = stride = patch) is a GEMM on the host side:
 * patch_im2col lays the image out as rows of flattened patches, and embeddings_assemble adds the conv
 * bias, prepends the CLS token and adds the position embeddings. */

/* patch_im2col: pixels [B,C,H,W] -> patches [B*grid_h*grid_w, C*patch*patch].
 * Row b*(grid_h*grid_w) + r*grid_w + q holds the patch at grid position (r,q) of image b; column
 * (c*patch + u)*patch + v holds pixels[b, c, r*patch+u, q*patch+v], which is the flattening of a Conv2d
 * weight [D,C,patch,patch], so patches x weight^T is the convolution. Pixels outside the grid (when H or W
 * is not a multiple of patch) are dropped, as Conv2d with stride = kernel does.
 * 1-D over all B*grid_h*grid_w*C*patch*patch output elements (column fastest); the host may round the
 * global size up. */
__kernel void patch_im2col(__global const float *pixels, __global float *patches, int batch, int channels,
                           int image_h, int image_w, int patch, int grid_h, int grid_w) {
    const size_t i = get_global_id(0);
    const size_t cols = (size_t)channels * (size_t)patch * (size_t)patch;
    const size_t patches_per_image = (size_t)grid_h * (size_t)grid_w;
    const size_t n = (size_t)batch * patches_per_image * cols;
    if (i >= n) return;
    const size_t row = i / cols, col = i % cols;
    const size_t b = row / patches_per_image, rq = row % patches_per_image;
    const size_t r = rq / (size_t)grid_w, q = rq % (size_t)grid_w;
    const size_t pp = (size_t)patch * (size_t)patch;
    const size_t c = col / pp, uv = col % pp;
    const size_t u = uv / (size_t)patch, v = uv % (size_t)patch;
    const size_t y = r * (size_t)patch + u, x = q * (size_t)patch + v;
    patches[i] = pixels[((b * (size_t)channels + c) * (size_t)image_h + y) * (size_t)image_w + x];
}

/* embeddings_assemble: builds the token sequence hidden [B*T, D] (T = 1 + number of patches):
 *   hidden[b,0,:] = cls_token[:] + position[0,:]
 *   hidden[b,t,:] = (patch_embed[b*(T-1) + t-1, :] + patch_bias[:]) + position[t,:]   for t >= 1
 * patch_embed [B*(T-1), D] is the GEMM output without bias; cls_token [D]; position [T, D]. The
 * parenthesisation matches PyTorch (conv with bias, then + position). 1-D over B*T*D elements. */
__kernel void embeddings_assemble(__global const float *patch_embed, __global const float *patch_bias,
                                  __global const float *cls_token, __global const float *position,
                                  __global float *hidden, int batch, int tokens, int dim) {
    const size_t i = get_global_id(0);
    const size_t n = (size_t)batch * (size_t)tokens * (size_t)dim;
    if (i >= n) return;
    const size_t d = i % (size_t)dim, bt = i / (size_t)dim;
    const size_t t = bt % (size_t)tokens, b = bt / (size_t)tokens;
    if (t == 0) {
        hidden[i] = cls_token[d] + position[d];
    } else {
        const size_t src = (b * (size_t)(tokens - 1) + (t - 1)) * (size_t)dim + d;
        hidden[i] = (patch_embed[src] + patch_bias[d]) + position[t * (size_t)dim + d];
    }
}
