#include <algorithm>
#include <iostream>
#include <string>
int main(){std::string w; std::cin>>w; if(std::count(w.begin(),w.end(),w[0])==(long)w.size()){std::cout<<"impossible\n";return 0;} std::string r=w; do std::next_permutation(r.begin(),r.end()); while(r==w); std::cout<<r<<"\n";}
