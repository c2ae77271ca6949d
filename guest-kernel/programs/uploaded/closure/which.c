/* A library that says which copy of it was loaded: WHICH names the copy
 * (pytests/test_closure.py builds one per search directory). */
const char *which(void)
{
    return WHICH;
}
