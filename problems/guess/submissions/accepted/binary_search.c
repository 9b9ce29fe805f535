#include <stdio.h>
#include <string.h>
int main(void){int lo=1,hi=100; char a[16]; for(;;){int m=(lo+hi)/2; printf("%d\n",m); fflush(stdout); if(scanf("%15s",a)!=1) return 0; if(!strcmp(a,"correct")) return 0; if(!strcmp(a,"lower")) hi=m-1; else lo=m+1;}}
