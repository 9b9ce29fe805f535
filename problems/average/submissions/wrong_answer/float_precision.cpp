#include <cstdio>
int main(){int n; std::scanf("%d",&n); float s=0; for(int i=0;i<n;i++){float x; std::scanf("%f",&x); s+=x;} std::printf("%.2f\n", s/n);}
