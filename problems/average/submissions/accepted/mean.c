#include <stdio.h>
int main(void){int n; scanf("%d",&n); long double s=0; for(int i=0;i<n;i++){long long x; scanf("%lld",&x); s+=x;} printf("%.9Lf\n", s/n); return 0;}
