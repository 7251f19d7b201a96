/* placeholder: replaced by the image generator */
int
main(void)
{
	return 1;
}
