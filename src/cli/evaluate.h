/* vitexplain evaluate: how faithful each explanation method is on a set of images (deletion and insertion
 * curves against random orders, and with object masks the pointing game and the share on the object). */
#ifndef VTE_CLI_EVALUATE_H
#define VTE_CLI_EVALUATE_H

int cli_evaluate(int argc, char **argv);

#endif
